"""`gitops-onboard check`: are the stamped copies below PATH what the template produces."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from generator.commands._common import add_format_option, formatter
from generator.k8s_schema import DEFAULT_KUBERNETES_VERSION

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard check                  # in the infra repo or an app repo
  gitops-onboard check --offline infra/ # skip looking up newer template releases
  gitops-onboard check --format json . | jq '.findings[] | select(.check == "drift")'

exit codes: 0 all current, 1 something is not, 2 bad usage
"""


def add_parser(subparsers: Any) -> None:
    """Register `check`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check",
        help="check that stamped copies are current, consistent and encrypted",
        description="For every Copier answers file below PATH: render the recorded template "
        "version with the recorded answers and diff it against the files (drift), and look "
        "for a newer template release (staleness). For an infra repo also: every service is "
        "in exactly the clusters of its answers, no cluster lists a missing path, every apps/* "
        "folder is stamped or hand-made, every cluster builds with `kubectl kustomize`, every "
        "object validates against the Kubernetes schema, every Secret is encrypted, intact "
        "(decrypted in memory when a private key for it is at hand) and set, and Flux "
        "decrypts every cluster that holds encrypted Secrets.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    parser.add_argument(
        "path", type=Path, nargs="?", default=Path("."), help="folder to check (default: .)"
    )
    parser.add_argument(
        "--offline", action="store_true", help="do not look up newer template releases"
    )
    add_format_option(parser)
    parser.add_argument(
        "--kubernetes-version",
        default=DEFAULT_KUBERNETES_VERSION,
        metavar="X.Y",
        help=f"Kubernetes version whose schema objects must match "
        f"(default: {DEFAULT_KUBERNETES_VERSION})",
    )
    parser.add_argument("--no-diff", action="store_true", help="do not print drift diffs")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Check and print the report; exit 1 when anything is not current."""
    from generator.check import check, render_json, render_text  # not needed for --help

    report = check(args.path, offline=args.offline, kubernetes_version=args.kubernetes_version)
    if args.format == "json":
        print(render_json(report), end="")
    else:
        print(render_text(report, diffs=not args.no_diff), end="")
    return 0 if report.ok else 1
