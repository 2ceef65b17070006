"""Drift: how the files of a stamped copy differ from what its template version renders.

Only files the template renders are compared: files a copy adds (encrypted secrets, extra
manifests) are not drift. Two things never count as drift:

- the fields CD owns by design: the `newTag` and `digest` of each `images:` entry in a
  kustomization (CD sets both on every deploy; the lines on disk are taken as they are,
  however CD formats them; a `digest` the template does not render follows `newTag`);
- `*.enc.yaml` files, which are encrypted by the library and never rendered by Jinja.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Literal

from generator.cd_owned import take_cd_owned_lines
from generator.copier_run.render import RenderedFiles

__all__ = ["FileDrift", "drift", "take_cd_owned_lines"]

_KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


@dataclass(frozen=True)
class FileDrift:
    """One file of a copy that is not what the template renders."""

    path: str
    status: Literal["changed", "missing"]
    diff: str


def _decode(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _compare(relative: str, expected: bytes, actual: bytes) -> FileDrift | None:
    if expected == actual:
        return None
    want, have = _decode(expected), _decode(actual)
    if want is None or have is None:
        return FileDrift(relative, "changed", "binary file differs from the template\n")
    if PurePath(relative).name in _KUSTOMIZATION_NAMES:
        want = take_cd_owned_lines(want, have)
        if want == have:
            return None
    diff = "".join(
        difflib.unified_diff(
            want.splitlines(keepends=True),
            have.splitlines(keepends=True),
            fromfile=f"template/{relative}",
            tofile=relative,
        )
    )
    return FileDrift(relative, "changed", diff)


def drift(
    folder: Path, rendered: RenderedFiles, user_owned: Callable[[str], bool] = lambda _: False
) -> list[FileDrift]:
    """Every rendered file of the copy in `folder` that is changed or missing on disk.

    Files for which `user_owned` is true belong to the user and are never compared.
    """
    found: list[FileDrift] = []
    for relative, expected in sorted(rendered.items()):
        if relative.endswith(".enc.yaml") or user_owned(relative):
            continue
        path = folder / relative
        if isinstance(expected, PurePath):
            if not path.is_symlink() or PurePath(path.readlink()) != expected:
                found.append(FileDrift(relative, "changed", f"should link to {expected}\n"))
            continue
        if not path.is_file():
            found.append(FileDrift(relative, "missing", ""))
            continue
        difference = _compare(relative, expected, path.read_bytes())
        if difference is not None:
            found.append(difference)
    return found
