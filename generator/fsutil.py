"""File writes that never leave a half-written file behind, and never go through a link.

Every path gitops-onboard reads for editing, writes or deletes passes `confined` first: it
must lie inside the repo root and be reached from it through no symbolic link. The root
itself may be reached through links (it is resolved once). A link inside the repo is refused
even when it points to another file of the repo, because the edit would silently change that
other file; `write_atomic` also refuses to replace a link, so no writer can turn one into a
copy of its target.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from generator.errors import InputError

__all__ = ["LINK_RULE", "confined", "refuse_link", "write_atomic", "write_if_changed"]

LINK_RULE = "gitops-onboard never edits, writes or deletes through a symbolic link"


def _link_error(where: str, link: str, target: Path) -> InputError:
    kind = "folder" if target.is_dir() else "file"
    what = "is a symbolic link" if link == where else f"its folder {link} is a symbolic link"
    return InputError(where, f"{what}; {LINK_RULE}, so replace it with a regular {kind}")


def _relative(root: Path, base: Path, path: Path) -> Path:
    """`path` relative to `root` (as given, or resolved), without `..`; else InputError."""
    for anchor in (root, base):
        try:
            relative = path.relative_to(anchor)
        except ValueError:
            continue
        if ".." not in relative.parts:
            return relative
    raise InputError(
        str(path),
        f"is outside the repo {base}; gitops-onboard edits, writes and deletes only inside it",
    )


def confined(root: Path, path: Path) -> Path:
    """`path` inside the repo at `root`, reached through no symbolic link; else InputError.

    Returns the path under the resolved root. Components that do not exist yet are fine:
    they are created as real folders and files. The error names `path` relative to `root`.
    """
    base = root.resolve()
    relative = _relative(root, base, path)
    current = base
    for part in relative.parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            break
        if stat.S_ISLNK(mode):
            where = relative.as_posix()
            raise _link_error(where, current.relative_to(base).as_posix(), current)
    return base / relative


def refuse_link(path: Path) -> None:
    """Raise InputError when `path` itself is a symbolic link (its folders are not checked)."""
    if path.is_symlink():
        raise _link_error(str(path), str(path), path)


def write_atomic(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write `text` to `path` through a temp file in the same folder and a rename.

    Refuses to replace a symbolic link; callers check the folders with `confined`.
    """
    refuse_link(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` only when it differs from what is on disk; return whether it wrote."""
    refuse_link(path)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    write_atomic(path, text)
    return True
