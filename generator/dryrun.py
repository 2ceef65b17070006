"""`--dry-run` for every command that writes: run it on a throwaway copy, show the diff.

The command runs unchanged against a copy of the repo it would write to, so the preview is
exactly what the real run would do — Copier tasks and sops included — and the real repo is
never touched. Only encrypted values ever reach the copy, like the real run.
"""

from __future__ import annotations

import difflib
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

__all__ = ["preview", "tree_diff"]


def _entries(root: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Regular files and symbolic links (by target) under `root`, `.git` excluded.

    Links are never followed: what one points to may be outside the repo, or resolve to
    something else in the copy, and must not be read into the diff.
    """
    files: dict[str, Path] = {}
    links: dict[str, str] = {}
    if not root.exists():
        return files, links
    for path in root.rglob("*"):
        name = path.relative_to(root).as_posix()
        if ".git" in path.relative_to(root).parts:
            continue
        if path.is_symlink():
            links[name] = os.readlink(path)
        elif path.is_file():
            files[name] = path
    return files, links


def _lines(path: Path | None) -> list[str] | None:
    if path is None:
        return []
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def tree_diff(before: Path, after: Path) -> str:
    """A unified diff of every file that differs between two trees (`.git` excluded)."""
    (old, old_links), (new, new_links) = _entries(before), _entries(after)
    chunks: list[str] = [
        f"Symbolic links a/{name} and b/{name} differ\n"
        for name in sorted(old_links.keys() | new_links.keys())
        if old_links.get(name) != new_links.get(name)
    ]
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a is not None and b is not None and a.read_bytes() == b.read_bytes():
            continue
        a_lines, b_lines = _lines(a), _lines(b)
        if a_lines is None or b_lines is None:
            chunks.append(f"Binary files a/{name} and b/{name} differ\n")
            continue
        diff = difflib.unified_diff(
            a_lines,
            b_lines,
            fromfile=f"a/{name}" if a is not None else "/dev/null",
            tofile=f"b/{name}" if b is not None else "/dev/null",
        )
        chunks.append("".join(line if line.endswith("\n") else line + "\n" for line in diff))
    return "".join(chunks)


@contextmanager
def _captured_fds() -> Iterator[list[str]]:
    """Capture fd 1 and 2, child processes included (Copier tasks print on them)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    out: list[str] = []
    python_level = io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with redirect_stdout(python_level), redirect_stderr(python_level):
                yield out
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            out.append(python_level.getvalue() + sink.read().decode("utf-8", "replace"))


def preview(roots: list[Path], action: Callable[[list[Path]], int]) -> tuple[int, str, str]:
    """Run `action` on copies of `roots`; return (exit code, diff, what it printed).

    `action` receives the copies' paths in place of `roots`. Paths inside a copy are shown
    as paths inside its root in both the diff and the output.
    """
    roots = [root.resolve() for root in roots]
    with tempfile.TemporaryDirectory(prefix="gitops-onboard-dry-run.") as scratch:
        copies = [Path(scratch) / str(i) / (root.name or "root") for i, root in enumerate(roots)]
        for root, copy in zip(roots, copies, strict=True):
            copy.parent.mkdir()
            if root.exists():
                shutil.copytree(root, copy, symlinks=True)
        with _captured_fds() as printed:
            code = action(copies)
        diffs = []
        output = printed[0] if printed else ""
        for root, copy in zip(roots, copies, strict=True):
            diff = tree_diff(root, copy)
            if diff and len(roots) > 1:
                diff = f"# {root}\n{diff}"
            diffs.append(diff)
            output = output.replace(str(copy), str(root))
    return code, "".join(diffs), output
