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

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from generator.copier_run.render import RenderedFiles
from generator.yamltext import new_yaml

__all__ = ["FileDrift", "drift", "take_cd_owned_lines"]

_KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})


@dataclass(frozen=True)
class FileDrift:
    """One file of a copy that is not what the template renders."""

    path: str
    status: Literal["changed", "missing"]
    diff: str


def _image_cd_lines(text: str) -> dict[str, tuple[int, int | None]]:
    """Line index of the `newTag` and the `digest` (None when absent) of each named image."""
    try:
        doc = new_yaml("rt").load(text)
    except YAMLError:
        return {}
    if not isinstance(doc, CommentedMap) or not isinstance(doc.get("images"), CommentedSeq):
        return {}
    lines: dict[str, tuple[int, int | None]] = {}
    for entry in doc["images"]:
        if isinstance(entry, CommentedMap) and "name" in entry and "newTag" in entry:
            tag_line = int(entry.lc.value("newTag")[0])
            digest_line = int(entry.lc.value("digest")[0]) if "digest" in entry else None
            lines[str(entry["name"])] = (tag_line, digest_line)
    return lines


def take_cd_owned_lines(rendered: str, on_disk: str, *, only: str | None = None) -> str:
    """`rendered` with each image's `newTag` and `digest` lines taken from the same image on disk.

    A `digest` line on disk that `rendered` lacks is put right after its `newTag` line; one
    that `rendered` has and the disk lacks is left out. `only` limits it to that image.
    """
    rendered_at = _image_cd_lines(rendered)
    disk_at = _image_cd_lines(on_disk)
    if not rendered_at or not disk_at:
        return rendered
    lines = rendered.splitlines(keepends=True)
    disk_lines = on_disk.splitlines(keepends=True)

    def taken(index: int, like: str) -> str:
        newline = "\n" if like.endswith("\n") else ""
        return disk_lines[index].rstrip("\r\n") + newline

    # From the last entry up, so that an added or dropped line moves no index still to come.
    for name, (tag_line, digest_line) in sorted(
        rendered_at.items(), key=lambda item: item[1][0], reverse=True
    ):
        if name not in disk_at or only not in (None, name):
            continue
        disk_tag, disk_digest = disk_at[name]
        if disk_digest is None:
            replacement = [taken(disk_tag, lines[tag_line])]
        else:
            replacement = [taken(disk_tag, "\n"), taken(disk_digest, lines[tag_line])]
        if digest_line is not None:
            del lines[digest_line]
            if digest_line < tag_line:
                tag_line -= 1
        lines[tag_line : tag_line + 1] = replacement
    return "".join(lines)


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
