"""`gitops-onboard offboard`: unregister a service from every cluster and delete its folder."""

from __future__ import annotations

import argparse
from typing import Any

from generator.commands._common import add_dry_run, add_infra_option, confirm, formatter
from generator.onboard import offboard, plan_offboard

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard offboard --infra infra/ supervisor --yes
"""


def add_parser(subparsers: Any) -> None:
    """Register `offboard`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "offboard",
        help="remove a service from every cluster and delete apps/<service>/",
        description="Remove ../../apps/<service> from every cluster kustomization and delete "
        "apps/<service>/. Asks first unless --yes.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    parser.add_argument("service", help="service name")
    add_infra_option(parser)
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    add_dry_run(parser, "infra")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Offboard after confirmation."""
    service_dir, changes = plan_offboard(args.infra, args.service)
    touched = ", ".join(c.path.parent.name for c in changes) or "no cluster"
    if not args.yes and not confirm(f"Delete {service_dir} and remove it from {touched}?"):
        print("offboard: nothing changed")
        return 1
    removed, written = offboard(args.infra, args.service)
    for path in written:
        print(f"unregistered apps/{args.service} from {path.parent.name}")
    print(f"deleted {removed}")
    return 0
