"""`gitops-onboard recipients add|remove`: who can decrypt the infra repo's secrets."""

from __future__ import annotations

import argparse
from typing import Any

from generator import infra_root
from generator import recipients as rotation
from generator.commands._common import add_dry_run, add_infra_option, formatter

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard recipients add age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  gitops-onboard recipients remove age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
"""


def add_parser(subparsers: Any) -> None:
    """Register `recipients add` and `recipients remove`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "recipients",
        help="add or remove an age public key for every secret",
        description="Edit the age recipients of .sops.yaml and run `sops updatekeys` on every "
        "*.enc.yaml; `remove` also rotates each file's data key (sops rotate). Needs the age "
        "private key of a current recipient. On any failure every file is restored.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    sub = parser.add_subparsers(dest="recipients_command", metavar="SUBCOMMAND", required=True)
    for action, text in (
        ("add", "add a recipient and re-encrypt every data key for it"),
        ("remove", "remove a recipient and rotate every data key it could read"),
    ):
        child = sub.add_parser(
            action, help=text, description=text + ".", epilog=EXAMPLE, formatter_class=formatter
        )
        child.add_argument("key", metavar="AGE_PUBLIC_KEY", help="age1...")
        add_infra_option(child)
        add_dry_run(child, "infra")
        child.set_defaults(handler=run, action=action)


def run(args: argparse.Namespace) -> int:
    """Apply the change and say what it touched."""
    root = infra_root.find_infra_root(args.infra)
    change = rotation.add if args.action == "add" else rotation.remove
    result = change(root, args.key)
    verb = "added to" if args.action == "add" else "removed from"
    state = f"{verb} .sops.yaml" if result.config_changed else "already as asked in .sops.yaml"
    print(f"{args.key[:16]}...: {state}")
    for path in result.updated:
        extra = ", data key rotated" if path in result.rotated else ""
        print(f"updated {path.relative_to(root)}{extra}")
    if not result.updated:
        print("every *.enc.yaml already has these recipients")
    return 0
