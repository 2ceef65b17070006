"""Helpers for the template's Copier `_migrations`: `python -m generator.migrate rename OLD NEW`.

A template release that renames a file adds a migration that runs before the update, so the
file keeps its history and its hand edits travel under the new name::

    _migrations:
      - version: v2.0.0
        when: "{{ _stage == 'before' }}"
        command: ["{{ _copier_python }}", "-m", "generator.migrate", "rename", "a.yaml", "b.yaml"]

Copier runs it in each destination being updated. The rename goes through `git mv` when the
file is tracked (Copier reads the destination from the git index), and does nothing when the
old file is absent or the new one already exists, so it is safe to run twice.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from generator.errors import OnboardError, ToolError
from generator.git import git
from generator.tasks import in_copier_scratch_render

__all__ = ["main", "rename"]


def rename(folder: Path, old: str, new: str) -> bool:
    """Rename `folder/old` to `folder/new`; return whether anything moved."""
    source, target = folder / old, folder / new
    if not source.exists() or target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        git("ls-files", "--error-unmatch", "--", old, cwd=folder)
    except ToolError:
        source.rename(target)
    else:
        git("mv", "--", old, new, cwd=folder)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run one migration step in the current folder."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] != "rename":
        print("usage: python -m generator.migrate rename OLD NEW", file=sys.stderr)
        return 2
    folder = Path.cwd()
    if in_copier_scratch_render(folder):
        return 0
    try:
        moved = rename(folder, args[1], args[2])
    except OnboardError as error:
        print(f"gitops-onboard: error: {error}", file=sys.stderr)
        return 1
    if moved:
        print(f"gitops-onboard: renamed {args[1]} to {args[2]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
