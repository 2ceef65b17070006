"""`gitops-onboard update`: `copier update` of every stamped copy, with a final table."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from generator.commands._common import (
    add_allow_source_option,
    add_dry_run,
    add_format_option,
    formatter,
)
from generator.errors import InputError
from generator.fast_update import AUTO_PARALLEL_FROM
from generator.fleet import UpdateResult, plan, read_repos_file, update_fleet

__all__ = ["add_parser", "render_table", "run"]

EXAMPLE = """\
example:
  gitops-onboard update                        # every copy below . to the latest release
  gitops-onboard update infra/ --repos app-repos.txt --to v2.0.0 --jobs 4
  gitops-onboard update infra/ --dry-run       # what would conflict? nothing is changed

app-repos.txt lists one checked-out app repo a line (relative to the file; # comments).
Only template sources on each repo's allow-list run (see `gitops-onboard template`).
exit codes: 0 every copy updated or current, 1 a copy ended with conflicts, failed or
was dirty, 2 bad usage or a template source that is not allowed (nothing was run)
"""

_ORDER = ("updated", "current", "conflicts", "failed", "dirty")


def add_parser(subparsers: Any) -> None:
    """Register `update`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "update",
        help="copier update every stamped copy of the fleet",
        description="Run `copier update` for every stamped copy below PATH (the infra repo's "
        "root and services) and in the repos listed with --repos, to one template version. "
        "Continues past a failing copy and ends with a table: updated, current, conflicts "
        "(with the files), failed (with the reason), dirty (uncommitted changes, untouched). "
        "The updates are left uncommitted for review. A copy whose answers file records a "
        "template source its repo does not allow (.gitops-onboard.yaml) stops the run before "
        "Copier starts.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    parser.add_argument(
        "path", type=Path, nargs="?", default=Path("."), help="folder to update (default: .)"
    )
    parser.add_argument("--repos", type=Path, metavar="FILE", help="file listing more repos")
    parser.add_argument(
        "--to", metavar="REF", help="template version (default: the latest release tag)"
    )
    add_dry_run(parser, help="update throwaway clones and report what would happen; change nothing")
    add_allow_source_option(parser)
    add_format_option(parser)
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes rendering copies (with --no-fast-path: repositories updated in "
        f"parallel); default: up to 4, and one for fewer than {AUTO_PARALLEL_FROM} copies to "
        "render (starting a process costs more than it saves)",
    )
    parser.add_argument(
        "--no-fast-path",
        dest="fast",
        action="store_false",
        help="run real `copier update` in each copy instead of updating in process (the default)",
    )
    parser.set_defaults(handler=run)


def render_table(results: list[UpdateResult], *, dry_run: bool = False) -> str:
    """The final table: one row per copy, then the notes (copies Copier updated), the counts."""
    headers = ("COPY", "RESULT", "VERSION", "DETAILS")
    rows = []
    for result in results:
        version = result.version_from
        if result.version_to and result.version_to != result.version_from:
            version += f" -> {result.version_to}"
        details = result.reason or ", ".join(result.files)
        rows.append((result.path, result.outcome, version, details))
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(3)]
    lines = [
        "  ".join(
            str(cell).ljust(widths[i]) if i < 3 else str(cell) for i, cell in enumerate(row)
        ).rstrip()
        for row in [headers, *rows]
    ]
    counts = ", ".join(f"{sum(r.outcome == o for r in results)} {o}" for o in _ORDER)
    prefix = "dry run: " if dry_run else ""
    summary = f"{prefix}{len(results)} copies: {counts}"
    return "\n".join([*lines, "", *_notes(results), summary]) + "\n"


def _notes(results: list[UpdateResult]) -> list[str]:
    """One line per note (why real `copier update` ran, an undone interruption)."""
    by_note: dict[str, list[str]] = {}
    for result in results:
        if result.note:
            by_note.setdefault(result.note, []).append(result.path)
    lines = []
    for note, paths in by_note.items():
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        lines.append(f"note: {shown}: {note}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Update the fleet: progress on stderr (terminals only), the table or JSON on stdout."""
    if args.jobs is not None and args.jobs < 1:
        raise InputError("--jobs", "must be at least 1", args.jobs)
    repos = read_repos_file(args.repos) if args.repos is not None else []
    plans = plan(args.path, repos, args.allow_source)
    total = sum(len(p.folders) + len(p.damaged) for p in plans)
    seen = 0

    def progress(result: UpdateResult) -> None:
        nonlocal seen
        seen += 1
        print(f"[{seen}/{total}] {result.path}: {result.outcome}", file=sys.stderr)

    # Progress is for people watching a terminal; logs and pipes get the table only.
    results = update_fleet(
        plans,
        to=args.to,
        dry_run=args.dry_run,
        jobs=args.jobs,
        progress=progress if sys.stderr.isatty() else None,
        allow_sources=args.allow_source,
        fast=args.fast,
    )
    ok = all(r.outcome in ("updated", "current") for r in results)
    if args.format == "json":
        payload = {"ok": ok, "dry_run": args.dry_run, "results": [asdict(r) for r in results]}
        print(json.dumps(payload, indent=2))
    else:
        print(render_table(results, dry_run=args.dry_run), end="")
    return 0 if ok else 1
