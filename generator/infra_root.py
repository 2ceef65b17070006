"""Where an infra repo's root is: the folder that holds its `clusters/` folder.

The one definition: commands that take `--infra PATH` accept any folder inside the repo and
work from its root; `check` and `update` find the infra roots among the stamped copies
below a folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from generator.errors import InputError

__all__ = ["find_infra_root", "infra_roots_within", "is_infra_root"]


def is_infra_root(folder: Path) -> bool:
    """True when `folder` holds a `clusters/` folder."""
    return (folder / "clusters").is_dir()


def find_infra_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds a `clusters/` folder."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if is_infra_root(folder):
            return folder
    raise InputError(
        "destination",
        f"{start} is not inside an infra repo (no clusters/ folder above it); "
        "stamp the repo root with kind=infra first",
    )


def infra_roots_within(root: Path, folders: Iterable[Path]) -> set[Path]:
    """`root`, and the nearest infra root above each of `folders`, within `root`."""
    found = {root}
    for folder in folders:
        for candidate in (folder, *folder.parents):
            if not candidate.is_relative_to(root):
                break
            if is_infra_root(candidate):
                found.add(candidate)
                break
    return found
