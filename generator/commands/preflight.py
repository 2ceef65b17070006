"""`gitops-onboard preflight`: check that this runner can run the app's deploy job."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from generator.commands._common import add_format_option, formatter
from generator.errors import InputError
from generator.preflight import SECTIONS, Options, run_preflight
from generator.terminal_colour import Colour, paint

__all__ = ["add_parser", "parse_size", "run"]

EXAMPLE = """\
example:
  # on the runner, in the app repo, with the deploy job's secrets in the environment
  gitops-onboard preflight
  gitops-onboard preflight --only registry --upload-size 256MiB --format json
  # or run the `preflight` job of .gitea/workflows/cd.yml by hand (workflow_dispatch)
"""
_SIZE = re.compile(r"(\d+)\s*(|B|K|KB|KiB|M|MB|MiB|G|GB|GiB)", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """`64MiB`, `512K`, `1048576` → bytes (binary units); raise `InputError` otherwise."""
    match = _SIZE.fullmatch(text.strip())
    size = int(match[1]) * _UNITS[match[2][:1].lower()] if match else 0
    if size < 1:
        raise InputError("--upload-size", "must be a size such as 64MiB, 512K or 1048576", text)
    return size


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise InputError("--timeout", "must be a number of seconds from 0 to 3600", text)
    return value


def add_parser(subparsers: Any) -> None:
    """Register `preflight`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "preflight",
        help="check that this runner can deploy the app: BuildKit, registry, infra SSH, tools",
        description="Run in an app repo on the runner: check every dependency of the deploy "
        "job (BuildKit, the registry and its proxy, the infra repo over SSH, the tools) and "
        "print one line per check with the fix. The credentials come from REGISTRY_CREDS, "
        "INFRA_DEPLOY_KEY and INFRA_KNOWN_HOSTS, as in the job; none is shown. Exit 1 when a "
        "check fails.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    parser.add_argument(
        "app_repo", nargs="?", default=".", metavar="APP_REPO", help="the app repo (default: .)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="check only this part (repeatable; default: all)",
    )
    parser.add_argument(
        "--upload-size",
        default="64MiB",
        metavar="SIZE",
        help="size of the test blob pushed through the registry's proxy (default: 64MiB)",
    )
    parser.add_argument(
        "--timeout",
        default="10",
        metavar="SECONDS",
        help="how long each network step may take (default: 10)",
    )
    add_format_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per check, with the fix for each failure."""
    options = Options(parse_size(args.upload_size), _timeout(args.timeout))
    checks = run_preflight(Path(args.app_repo), os.environ, options, args.only or SECTIONS)
    if args.format == "json":
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        colours: dict[str, Colour] = {"ok": "green", "skip": "yellow", "fail": "red"}
        for check in checks:
            status = paint(f"{check.status:<4}", colours[check.status], sys.stdout)
            line = f"{status}  {check.name:<20} {check.detail}"
            if check.fix:
                line += f" — fix: {check.fix}"
            print(line)
    return 1 if any(c.status == "fail" for c in checks) else 0
