"""The lines CD owns in a kustomization: the `newTag` and `digest` of each `images:` entry.

`take_cd_owned_lines` puts the lines on disk into a fresh render, so that `check` (drift),
the template's task (an overlay keeps its tag through an update), the migration to
overlays and `promote` (one overlay's pair copied into another's) treat CD's lines alike,
however CD formatted them.
"""

from __future__ import annotations

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from generator.yamltext import new_yaml

__all__ = ["take_cd_owned_lines"]


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
