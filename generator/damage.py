"""Damage that `check` and `update` both report: a lost root answers file, leftover conflicts.

- An infra root whose `.copier-answers.yml` git still knows (deleted in the work tree, or
  deleted by a commit) has lost the record of its template and version.
- A file holding a conflict block in Copier's inline style (`<<<<<<< before updating`,
  `=======`, `>>>>>>> after updating`, the style of `git merge-file`) was left by an update
  whose conflict nobody resolved, committed or not. All three marker lines must be there,
  in order, so a Markdown heading underlined with `=======` is not a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from generator.answers import ANSWERS_FILE
from generator.errors import OnboardError
from generator.git import git, toplevel
from generator.walk import walk_repo

__all__ = [
    "ConflictBlock",
    "conflict_blocks",
    "lost_root_answers",
]

_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class ConflictBlock:
    """One conflict left in a file: where it starts and its two outer marker lines."""

    path: Path
    line: int
    start: str
    end: str


def _blocks_in(path: Path) -> Iterator[ConflictBlock]:
    try:
        if path.stat().st_size > _MAX_BYTES:
            return
        data = path.read_bytes()
    except OSError:
        return
    if b"\0" in data[:8192] or b"<<<<<<<" not in data:
        return  # binary, or no line can open a block
    start: tuple[int, str] | None = None
    middle = False
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        line = raw.rstrip()
        if line == "<<<<<<<" or line.startswith("<<<<<<< "):
            start, middle = (number, line), False
        elif start is not None and line == "=======":
            middle = True
        elif start is not None and middle and (line == ">>>>>>>" or line.startswith(">>>>>>> ")):
            yield ConflictBlock(path, start[0], start[1], line)
            start, middle = None, False


def conflict_blocks(folder: Path, *, skip: Iterable[Path] = ()) -> list[ConflictBlock]:
    """Every conflict block in the files below `folder`, outside the folders in `skip`.

    `skip` is spelled like `folder` (both absolute, or both relative to the same place).
    """
    skipped = set(skip)
    found: list[ConflictBlock] = []
    for here, _dirs, files in walk_repo(folder, skip=skipped):
        for name in files:
            path = here / name
            if not path.is_symlink():
                found.extend(_blocks_in(path))
    return found


def lost_root_answers(root: Path) -> tuple[str, str] | None:
    """How the infra root at `root` lost its answers file, and the command that restores it.

    None when the file is there, `root` is no infra root, or git never knew the file (an
    infra repo made by hand has none).
    """
    if (root / ANSWERS_FILE).exists() or not (root / "clusters").is_dir():
        return None
    top = toplevel(root)
    if top is None:
        return None
    name = (root / ANSWERS_FILE).resolve().relative_to(top.resolve()).as_posix()
    try:
        git("cat-file", "-e", f"HEAD:{name}", cwd=root)
    except OnboardError:
        pass
    else:
        return "deleted but not committed", f"git checkout HEAD -- {ANSWERS_FILE}"
    try:
        commit = git("log", "-1", "--format=%h", "--diff-filter=D", "--", name, cwd=top).strip()
    except OnboardError:
        return None
    if not commit:
        return None
    return f"deleted by commit {commit}", f"git checkout {commit}^ -- {ANSWERS_FILE}"
