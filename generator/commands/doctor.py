"""`gitops-onboard doctor`: check what this machine and infra repo need."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from generator.commands._common import add_format_option, add_infra_option, formatter
from generator.doctor import run_checks
from generator.terminal_colour import Colour, paint

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard doctor --infra infra/
  gitops-onboard doctor --format json
"""


def add_parser(subparsers: Any) -> None:
    """Register `doctor`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "doctor",
        help="check sops, kustomize, git, Copier, the age key and Flux decryption",
        description="Check the tools gitops-onboard drives and, inside an infra repo, that an "
        "age key can decrypt its secrets and Flux decryption is configured. Exit 1 when a "
        "check fails.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    add_infra_option(parser)
    add_format_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per check, with the fix for each miss."""
    checks = run_checks(args.infra)
    if args.format == "json":
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        colours: dict[str, Colour] = {"ok": "green", "warn": "yellow", "fail": "red"}
        for check in checks:
            status = paint(f"{check.status:<4}", colours[check.status], sys.stdout)
            line = f"{status}  {check.name:<16} {check.detail}"
            if check.fix:
                line += f"\n      {'':<16} fix: {check.fix}"
            print(line)
    return 1 if any(c.status == "fail" for c in checks) else 0
