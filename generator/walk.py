"""The one walk over a repo's files, with the one set of folders every command skips.

Git internals, dependency and tool folders (`node_modules`, `.venv`, `__pycache__`) are
never part of what gitops-onboard reads or changes, so every search (stamped copies, conflict
markers, encrypted files, Flux manifests, the audit, `doctor`) skips the same ones. Folders
and files come in sorted order; linked folders are not followed.

Example::

    encrypted = [path for path in repo_files(root) if path.name.endswith(".enc.yaml")]
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from pathlib import Path

__all__ = ["SKIPPED_DIRS", "every_entry", "repo_files", "walk_repo"]

SKIPPED_DIRS = frozenset({".git", "node_modules", ".venv", "__pycache__"})


def walk_repo(
    root: Path, *, skip: Collection[Path] = ()
) -> Iterator[tuple[Path, list[str], list[str]]]:
    """`os.walk` of `root` without the skipped folders: (folder, folder names, file names).

    `skip` names further folders to leave out, with everything below them, spelled like
    `root` (both absolute, or both relative to the same place).
    """
    for current, dirs, files in os.walk(root):
        here = Path(current)
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and here / d not in skip)
        yield here, list(dirs), sorted(files)


def every_entry(root: Path) -> Iterator[Path]:
    """Every file, folder and link under `root`, skipped folders included, links not followed.

    For a command that must see everything it would delete (`adopt` replaces a whole folder).
    """
    for current, dirs, files in os.walk(root):
        here = Path(current)
        dirs.sort()
        for name in sorted([*dirs, *files]):
            yield here / name


def repo_files(root: Path, *, skip: Collection[Path] = ()) -> Iterator[Path]:
    """Every file under `root`, folder by folder, skipping `SKIPPED_DIRS` and `skip`."""
    for folder, _dirs, files in walk_repo(root, skip=skip):
        for name in files:
            yield folder / name
