"""`gitops-onboard template list|allow|deny`: the template sources a repository may run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from generator import sources
from generator.commands._common import add_dry_run, add_format_option, formatter
from generator.stamped import find_copies

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard template list
  gitops-onboard template allow https://gitea.example.com/platform/gitops-onboard.git
  gitops-onboard template deny https://gitea.example.com/someone/fork.git --repo infra/

Copier runs a template's tasks with --trust; update, onboard and init run only the
sources on this list. The list is allowed_sources in .gitops-onboard.yaml at the repo's
root; commit it like any change, and review every change to it.
"""

_ACTIONS = {
    "list": (
        "show the template sources this repository allows",
        "gitops-onboard template list --repo infra/ --format json",
    ),
    "allow": (
        "add a template source to the allow-list",
        "gitops-onboard template allow https://gitea.example.com/platform/gitops-onboard.git",
    ),
    "deny": (
        "take a template source off the allow-list (alias: remove)",
        "gitops-onboard template deny https://gitea.example.com/someone/fork.git",
    ),
}


def add_parser(subparsers: Any) -> None:
    """Register `template list`, `template allow` and `template deny`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "template",
        help="list, allow or deny the template sources a repo may run",
        description="The allow-list of template sources of an infra repo (or an app repo): "
        "allowed_sources in .gitops-onboard.yaml at its root. A stamped copy whose answers "
        "file records any other source is refused by update and onboard before Copier starts "
        "(exit 2) and reported by check. `init` and the first copy into an app repo record "
        "the template they stamp from; a repo stamped earlier allows the source its root "
        "answers file records until a list is recorded.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    sub = parser.add_subparsers(dest="template_command", metavar="SUBCOMMAND", required=True)
    for action, (text, example) in _ACTIONS.items():
        aliases = ["remove"] if action == "deny" else []
        child = sub.add_parser(
            action,
            aliases=aliases,
            help=text,
            description=text + ".",
            epilog=f"example:\n  {example}\n",
            formatter_class=formatter,
        )
        if action != "list":
            child.add_argument("source", metavar="SRC", help="template git URL or path")
        child.add_argument(
            "--repo",
            "--infra",
            dest="repo",
            type=_repo,
            default=".",
            metavar="PATH",
            help="the infra repo or app repo, or a folder in it (default: .)",
        )
        if action == "list":
            add_format_option(child)
        else:
            add_dry_run(child, "repo")
        child.set_defaults(handler=run, action=action)


def _repo(value: str) -> Path:
    """The root of the repository holding `value`: the folder whose list is edited."""
    return sources.repo_root(Path(value))


def _still_using(root: Path, source: str) -> int:
    copies, _broken = find_copies(root)
    wanted = sources.normalize(source, base=Path.cwd())
    return sum(sources.normalize(c.src_path, base=Path.cwd()) == wanted for c in copies)


def _list(args: argparse.Namespace) -> int:
    listing = sources.allow_list(args.repo)
    if args.format == "json":
        payload = {
            "file": str(listing.file),
            "recorded": listing.recorded,
            "sources": list(listing.sources),
        }
        print(json.dumps(payload, indent=2))
        return 0
    if not listing.recorded:
        if listing.sources:
            print(
                f"{listing.sources[0]}  (the source the root was stamped from; not recorded: "
                f"`gitops-onboard template allow {listing.sources[0]}` records it)"
            )
        else:
            print(f"no template source is allowed (nothing recorded in {listing.file})")
        return 0
    for source in listing.sources:
        print(source)
    if not listing.sources:
        print(f"no template source is allowed ({sources.KEY} in {listing.file} is empty)")
    return 0


def run(args: argparse.Namespace) -> int:
    """List, allow or deny, and say what changed."""
    if args.action == "list":
        return _list(args)
    if args.action == "allow":
        change = sources.allow(args.repo, args.source)
        state = "allowed" if change.changed else "already allowed"
        print(f"{args.source}: {state} ({sources.KEY} in {change.file})")
        return 0
    change = sources.deny(args.repo, args.source)
    if not change.changed:
        print(f"{args.source}: not on the allow-list ({change.file})")
        return 0
    print(f"{args.source}: denied ({sources.KEY} in {change.file})")
    users = _still_using(change.file.parent, args.source)
    if users:
        print(
            f"{users} stamped {'copy still records' if users == 1 else 'copies still record'} "
            "it; `gitops-onboard check` names them, update and onboard refuse them"
        )
    if not change.sources:
        print("the list is empty now: no template may run in this repository")
    return 0
