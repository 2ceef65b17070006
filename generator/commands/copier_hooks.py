"""`gitops-onboard _task` and `_migrate`: the template's Copier task and migration (hidden).

Copier runs them in each destination it renders: `_task KIND ANSWERS_FILE` after every copy
and update (`_tasks` in `copier.yml`), `_migrate rename OLD NEW` before an update to a
release that renames a file, and `_migrate overlays ANSWERS_FILE [--clusters LIST]` before
every update of a service (`_migrations`; a service on several clusters gets overlays).
They are left out of `--help`, as they are Copier's to call, and share the command line's
error handling: bad input exits 2, any other failure 1, with one line. Released templates
call the same work through the frozen module entry points `python -m generator.tasks` and
`python -m generator.migrate`, thin shims over these subcommands (see `generator.template_api`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from generator.answers import load_answers
from generator.app import workflow_dir_warning
from generator.copier_run.migration import rename, to_overlays
from generator.copier_run.scratch import in_copier_scratch_render
from generator.copier_run.task import run_task

__all__ = ["add_parser", "migrate", "migrate_overlays", "task"]


def add_parser(subparsers: Any) -> None:
    """Register `_task` and `_migrate` (on a parser of their own, see `generator.cli`)."""
    task_parser: argparse.ArgumentParser = subparsers.add_parser(
        "_task", description="The template's Copier task (run by Copier)."
    )
    task_parser.add_argument("kind", metavar="KIND", help="infra, service or app")
    task_parser.add_argument("answers_file", metavar="ANSWERS_FILE", help="Copier's answers file")
    task_parser.set_defaults(handler=task)
    migrate_parser: argparse.ArgumentParser = subparsers.add_parser(
        "_migrate", description="A step of the template's Copier migrations (run by Copier)."
    )
    steps = migrate_parser.add_subparsers(dest="step", metavar="STEP", required=True)
    rename_parser: argparse.ArgumentParser = steps.add_parser("rename", help="rename a file")
    rename_parser.add_argument("old", metavar="OLD", help="the file's old path")
    rename_parser.add_argument("new", metavar="NEW", help="the file's new path")
    rename_parser.set_defaults(handler=migrate)
    overlays_parser: argparse.ArgumentParser = steps.add_parser(
        "overlays", help="give a service on several clusters one overlay per cluster"
    )
    overlays_parser.add_argument(
        "answers_file", metavar="ANSWERS_FILE", help="Copier's answers file"
    )
    overlays_parser.add_argument(
        "--clusters", default="", help="the new clusters answer of the update, if given"
    )
    overlays_parser.set_defaults(handler=migrate_overlays)


def task(args: argparse.Namespace) -> int:
    """Run the task for the current folder; nothing inside Copier's scratch renders."""
    destination = Path.cwd()
    if in_copier_scratch_render(destination):
        return 0
    notes: list[str] = []
    answers = load_answers(destination / args.answers_file)
    written = run_task(args.kind, destination, answers, notes)
    for path in written:
        print(f"gitops-onboard: updated {path}", file=sys.stderr)
    for note in notes:
        print(f"gitops-onboard: {note}", file=sys.stderr)
    if args.kind == "app" and (warning := workflow_dir_warning(destination)):
        print(f"gitops-onboard: warning: {warning}", file=sys.stderr)
    return 0


def migrate(args: argparse.Namespace) -> int:
    """Run one migration step in the current folder."""
    folder = Path.cwd()
    if in_copier_scratch_render(folder):
        return 0
    if rename(folder, args.old, args.new):
        print(f"gitops-onboard: renamed {args.old} to {args.new}", file=sys.stderr)
    return 0


def migrate_overlays(args: argparse.Namespace) -> int:
    """Move the service in the current folder to per-cluster overlays, if it needs them."""
    folder = Path.cwd()
    if in_copier_scratch_render(folder):
        return 0
    for path in to_overlays(folder, args.answers_file, args.clusters):
        print(f"gitops-onboard: migrated {path}", file=sys.stderr)
    return 0
