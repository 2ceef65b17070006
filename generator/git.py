"""The one place that runs `git`."""

from __future__ import annotations

from pathlib import Path

from generator.errors import ToolError
from generator.runner import run

__all__ = ["git", "is_clean", "toplevel", "version"]


def git(*args: str, cwd: Path) -> str:
    """Run `git ARGS` in `cwd` and return stdout."""
    return run(["git", *args], cwd=cwd).stdout


def toplevel(path: Path) -> Path | None:
    """The work tree root holding `path`, or None outside a git repo."""
    try:
        return Path(git("rev-parse", "--show-toplevel", cwd=path).strip())
    except ToolError:
        return None


def is_clean(path: Path) -> bool:
    """True when the work tree holding `path` has no uncommitted changes."""
    return git("status", "--porcelain", "--untracked-files=normal", cwd=path).strip() == ""


def version() -> str:
    """`git --version` without the words, e.g. `2.39.5`."""
    return run(["git", "--version"]).stdout.strip().removeprefix("git version ")
