"""`gitops-onboard adopt`: take over a hand-written `apps/<service>/` folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from generator.adopt import AdoptPlan, adopt, finish_interrupted, plan_adoption
from generator.commands._common import add_allow_source_option, add_dry_run, formatter
from generator.errors import InputError

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard adopt --infra infra/ apps/supervisor            # show the plan, write nothing
  gitops-onboard adopt --infra infra/ apps/supervisor --yes      # write it
  gitops-onboard adopt --infra infra/ apps/supervisor --resume   # finish an interrupted one
"""


def add_parser(subparsers: Any) -> None:
    """Register `adopt`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "adopt",
        help="take over a hand-written apps/<service>/ folder",
        description="Infer the template's answers from the manifests of a hand-written "
        "apps/<service>/ folder and the clusters that list it, render the template, and move "
        "everything it does not produce into the service's own Component local/ (extra "
        "objects as resources, a plaintext Secret encrypted with .sops.yaml's public keys, "
        "field differences as patches), so that every cluster builds the same objects as "
        "before. Without --yes it prints the plan and every difference and writes nothing. "
        "A difference that remains is refused unless --accept-differences. An adoption that "
        "was interrupted (killed, a full disk) is reported by `check` and by every writing "
        "command; --resume finishes it and --rollback puts the hand-written folder back.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    parser.add_argument("folder", type=Path, help="the service folder, apps/<service>")
    parser.add_argument(
        "--infra", type=Path, default=Path("."), metavar="PATH", help="the infra repo (default: .)"
    )
    parser.add_argument("--template", metavar="SRC", help="template source (default: the root's)")
    parser.add_argument("--vcs-ref", metavar="REF", help="template version (git tag or commit)")
    parser.add_argument("-y", "--yes", action="store_true", help="write the plan")
    parser.add_argument(
        "--accept-differences",
        action="store_true",
        help="with --yes, write although the built output would still differ (listed)",
    )
    way_out = parser.add_mutually_exclusive_group()
    way_out.add_argument(
        "--resume", action="store_true", help="finish an interrupted adoption of the folder"
    )
    way_out.add_argument(
        "--rollback",
        action="store_true",
        help="undo an interrupted adoption: the hand-written folder back as it was",
    )
    add_allow_source_option(parser)
    add_dry_run(parser, help="print the plan and the differences and write nothing (the default)")
    parser.set_defaults(handler=run)


def _print_plan(plan: AdoptPlan) -> None:
    shown = {k: v for k, v in plan.answers.items() if k not in ("service",)}
    print(f"adopt apps/{plan.service}: answers inferred")
    for name, value in shown.items():
        print(f"  {name}: {value!r}")
    print(f"the template alone would differ in {len(plan.template_differences)} place(s):")
    for difference in plan.template_differences:
        print(f"  {difference.line()}")
    for moved in plan.moved:
        print(f"kept in local/: {moved}")
    for name in plan.encrypted:
        print(f"encrypted on the way in: Secret {name} (public keys of .sops.yaml)")
    for change in plan.changes:
        verb = "create" if change.old is None else "replace"
        print(f"{verb} {change.path.relative_to(plan.root)}")
    for path in plan.removed:
        print(f"delete {path.relative_to(plan.root)}")
    if plan.differences:
        print(f"the built output would still differ in {len(plan.differences)} place(s):")
        for difference in plan.differences:
            print(f"  {difference.line()}")
    else:
        print("every cluster builds the same objects as before")


def run(args: argparse.Namespace) -> int:
    """Plan; with --yes (and not --dry-run) write; or finish or undo an interrupted one."""
    if args.resume or args.rollback:
        option = "--resume" if args.resume else "--rollback"
        if args.dry_run:
            raise InputError(option, "cannot be combined with --dry-run")
        service = finish_interrupted(args.infra, args.folder, roll_back=args.rollback)
        done = "rolled back: the hand-written folder is back" if args.rollback else "finished"
        print(f"adopt apps/{service}: {done}")
        return 0
    if args.accept_differences and not args.yes:
        raise InputError("--accept-differences", "only applies with --yes")
    options: dict[str, Any] = {"vcs_ref": args.vcs_ref, "allow_sources": args.allow_source}
    if not args.yes or args.dry_run:
        _print_plan(plan_adoption(args.infra, args.folder, args.template, **options))
        print("nothing written (pass --yes to write)")
        return 0
    plan = adopt(
        args.infra,
        args.folder,
        args.template,
        accept_differences=args.accept_differences,
        **options,
    )
    _print_plan(plan)
    if plan.encrypted:
        print("the plaintext Secret is still in git history: rotate its values")
    return 0
