"""`gitops-onboard init`: stamp an infra repo root (`kind=infra`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from generator.commands._common import (
    add_allow_source_option,
    add_answer_options,
    add_dry_run,
    collect_answers,
    formatter,
)
from generator.errors import InputError
from generator.onboard import init_infra

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard init --template https://gitea.example.com/platform/gitops-onboard.git \\
      --clusters koala,iguana \\
      --age-recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p infra/
"""


def add_parser(subparsers: Any) -> None:
    """Register `init`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "init",
        help="stamp an infra repo root with its cluster kustomizations",
        description="Stamp an infra repo root (kind=infra): clusters/<c>/kustomization.yaml "
        "for every cluster, .sops.yaml with the age recipients of the repo's secrets, and a "
        "README. The template is recorded as the repo's allow-list of template sources "
        "(.gitops-onboard.yaml); a repo that already records one must list it.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    parser.add_argument(
        "destination", type=Path, nargs="?", default=Path("."), help="infra repo root (default: .)"
    )
    parser.add_argument("--clusters", metavar="A,B", help="comma-separated cluster names")
    parser.add_argument(
        "--age-recipient",
        action="append",
        metavar="AGE_PUBLIC_KEY",
        help="age public key that can decrypt the repo's secrets (repeatable; same as "
        "--data 'age_recipients=[age1...]'; make one with `gitops-onboard keygen`)",
    )
    add_answer_options(parser)
    add_allow_source_option(parser)
    add_dry_run(parser, "destination")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Stamp the infra repo and list what was made."""
    answers = collect_answers(args)
    if args.clusters is not None:
        answers["clusters"] = [c.strip() for c in args.clusters.split(",") if c.strip()]
    if args.age_recipient:
        answers["age_recipients"] = list(args.age_recipient)
    if args.template is None:
        raise InputError("--template", "is required for init (a git URL or path of the template)")
    cluster_names = answers.pop("clusters", None)
    files = init_infra(
        args.destination,
        cluster_names,
        args.template,
        vcs_ref=args.vcs_ref,
        extra=answers,
        allow_sources=args.allow_source,
    )
    root = args.destination.resolve()
    for path in files:
        print(f"created {path.resolve().relative_to(root)}")
    return 0
