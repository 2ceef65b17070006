"""Steps of the template's Copier `_migrations`: `gitops-onboard _migrate rename OLD NEW`.

A template release that renames a file adds a migration that runs before the update, so the
file keeps its history and its hand edits travel under the new name::

    _migrations:
      - version: v2.0.0
        when: "{{ _stage == 'before' }}"
        command: ["{{ _copier_python }}", "-m", "generator", "_migrate", "rename", "a", "b"]

Copier runs it in each destination being updated. The rename goes through `git mv` when the
file is tracked (Copier reads the destination from the git index), and does nothing when the
old file is absent or the new one already exists, so it is safe to run twice.
"""

from __future__ import annotations

from pathlib import Path

from generator.errors import ToolError
from generator.git import git

__all__ = ["rename"]


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
