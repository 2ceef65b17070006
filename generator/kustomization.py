"""Surgical edits of kustomization files: pure `text -> text` functions.

Edits touch only the lines they must, so comments, key order, indentation, unknown keys and
document markers survive byte for byte; an edit that changes nothing returns the input
unchanged, and `add_resource` followed by `remove_resource` restores the original text.
ruamel.yaml parses the document to find the lines; the text itself is spliced.

Example::

    text = add_resource(text, "../../apps/web")   # idempotent
    text = set_image_tag(text, "gitea.example.com/team/web", "3f2c1e0")
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from generator.errors import InputError

__all__ = [
    "add_resource",
    "image_tag",
    "remove_resource",
    "resources",
    "set_image_tag",
    "validate",
]

_PLAIN_SAFE = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./:@+-]*")
_YAML11_SPECIAL = re.compile(
    r"(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|"
    r"null|Null|NULL|~|[-+]?[0-9][0-9_:.eExXoObB+-]*|\.(?:inf|Inf|INF|nan|NaN|NAN))"
)


@dataclass(frozen=True)
class _Parsed:
    doc: CommentedMap
    lines: list[str]


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    return yaml


def _parse(text: str, where: str) -> _Parsed:
    try:
        doc = _yaml().load(text) if text.strip() else CommentedMap()
    except YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(where, f"must be valid YAML ({problem}{at})") from error
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise InputError(where, "must be a YAML mapping (a kustomization)")
    return _Parsed(doc, text.splitlines(keepends=True))


def _resource_seq(parsed: _Parsed, where: str) -> CommentedSeq | None:
    value = parsed.doc.get("resources")
    if value is None:
        return None
    if not isinstance(value, CommentedSeq):
        raise InputError(f"{where}: resources", "must be a list of paths")
    for item in value:
        if not isinstance(item, str):
            raise InputError(f"{where}: resources", "must be a list of paths", item)
    return value


def validate(text: str, where: str = "kustomization.yaml") -> None:
    """Raise `InputError` unless `text` is a kustomization whose `resources` is a list."""
    _resource_seq(_parse(text, where), where)


def resources(text: str, where: str = "kustomization.yaml") -> list[str]:
    """Return the `resources` entries of a kustomization, in order."""
    seq = _resource_seq(_parse(text, where), where)
    return [] if seq is None else [str(item) for item in seq]


def _same_path(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _scalar(value: str) -> str:
    if _PLAIN_SAFE.fullmatch(value) and not _YAML11_SPECIAL.fullmatch(value):
        return value
    buffer = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_style = '"'  # type: ignore[assignment]
    yaml.width = 1 << 30
    yaml.dump(value, buffer)
    return buffer.getvalue().rstrip("\n").removesuffix("\n...")


def _newline(lines: list[str]) -> str:
    return "\r\n" if lines and lines[0].endswith("\r\n") else "\n"


def _insertion_point_at_end(lines: list[str]) -> int:
    """Index before a trailing `...` document-end marker and the blank lines before it."""
    end = len(lines)
    while end > 0 and lines[end - 1].strip() == "":
        end -= 1
    if end > 0 and lines[end - 1].strip() == "...":
        return end - 1
    return len(lines)


def _ensure_terminated(lines: list[str], index: int, newline: str) -> None:
    if index > 0 and not lines[index - 1].endswith(("\n", "\r")):
        lines[index - 1] += newline


def add_resource(text: str, path: str, where: str = "kustomization.yaml") -> str:
    """Append `path` to `resources` unless an equal entry is already listed."""
    parsed = _parse(text, where)
    seq = _resource_seq(parsed, where)
    lines = list(parsed.lines)
    newline = _newline(lines)
    entry = _scalar(path)
    if seq is not None and any(_same_path(str(item), path) for item in seq):
        return text
    if seq is None:
        if "resources" in parsed.doc:
            key_line, key_col = parsed.doc.lc.key("resources")
            new = [f"{' ' * key_col}- {entry}{newline}"]
            at = key_line + 1
        else:
            new = [f"resources:{newline}", f"- {entry}{newline}"]
            at = _insertion_point_at_end(lines)
        _ensure_terminated(lines, at, newline)
        lines[at:at] = new
        return "".join(lines)
    if len(seq) == 0 and _only_resources(parsed):
        block = _empty_flow_to_block(parsed, entry)
        if block is not None:
            return block
    if seq.fa.flow_style() or len(seq) == 0:
        return _rewrite_flow(parsed, [*map(str, seq), path], where)
    last_line, last_col = seq.lc.item(len(seq) - 1)
    if _item_spans_lines(parsed, seq, len(seq) - 1):
        return _rewrite_flow(parsed, [*map(str, seq), path], where)
    prefix = lines[last_line][:last_col]
    at = last_line + 1
    _ensure_terminated(lines, at, newline)
    lines.insert(at, f"{prefix}{entry}{newline}")
    return "".join(lines)


def remove_resource(text: str, path: str, where: str = "kustomization.yaml") -> str:
    """Remove every `resources` entry equal to `path`; drop `resources:` when it empties."""
    parsed = _parse(text, where)
    seq = _resource_seq(parsed, where)
    if seq is None:
        return text
    doomed = [i for i, item in enumerate(seq) if _same_path(str(item), path)]
    if not doomed:
        return text
    if seq.fa.flow_style() or any(_item_spans_lines(parsed, seq, i) for i in doomed):
        kept = [str(item) for i, item in enumerate(seq) if i not in doomed]
        return _rewrite_flow(parsed, kept, where)
    lines = list(parsed.lines)
    for index in reversed(doomed):
        del lines[seq.lc.item(index)[0]]
    if len(doomed) == len(seq):
        key_line, key_col = parsed.doc.lc.key("resources")
        if lines[key_line].strip() == "resources:":
            if _only_resources(parsed):
                # Without any field kustomize refuses the file ("kustomization.yaml is
                # empty"), and Flux with it: keep an empty list.
                lines[key_line] = f"{' ' * key_col}resources: []{_newline(lines)}"
            else:
                del lines[key_line]
    return "".join(lines)


def _only_resources(parsed: _Parsed) -> bool:
    """True when `resources` is the kustomization's only field besides apiVersion and kind.

    Such a file with an empty list is the one kustomize refuses without the list, so it is
    the one place `resources: []` and a block list trade places.
    """
    return set(parsed.doc) <= {"apiVersion", "kind", "resources"}


_EMPTY_FLOW = re.compile(r"^(?P<indent>[ ]*)resources:[ ]*\[[ ]*\][ ]*(?P<end>\r?\n)?$")


def _empty_flow_to_block(parsed: _Parsed, entry: str) -> str | None:
    """`resources: []` becomes a block list holding `entry` (None for any other layout)."""
    key_line, _ = parsed.doc.lc.key("resources")
    lines = list(parsed.lines)
    match = _EMPTY_FLOW.match(lines[key_line])
    if match is None:
        return None
    newline = match["end"] or _newline(lines)
    indent = match["indent"]
    lines[key_line : key_line + 1] = [f"{indent}resources:{newline}", f"{indent}- {entry}{newline}"]
    return "".join(lines)


def _item_spans_lines(parsed: _Parsed, seq: CommentedSeq, index: int) -> bool:
    """True for the rare entry written as a block scalar or a quoted string over lines."""
    line, col = seq.lc.item(index)
    rest = parsed.lines[line][col:].rstrip("\r\n")
    if rest[:1] in ("|", ">"):
        return True
    if rest[:1] in ("'", '"'):
        return bool(rest.count(rest[0]) < 2)
    return False


def _rewrite_flow(parsed: _Parsed, items: list[str], where: str) -> str:
    """Fallback for flow-style lists: rewrite just the `resources` value as a flow list."""
    key_line, key_col = parsed.doc.lc.key("resources")
    lines = list(parsed.lines)
    newline = _newline(lines)
    end = _value_end_line(parsed, "resources")
    body = ", ".join(_scalar(item) for item in items)
    lines[key_line:end] = [f"{' ' * key_col}resources: [{body}]{newline}"]
    return "".join(lines)


def _value_end_line(parsed: _Parsed, key: str) -> int:
    """First line after the value of top-level `key` (the next key's line or the end)."""
    keys = list(parsed.doc.keys())
    position = keys.index(key)
    if position + 1 < len(keys):
        next_line, _ = parsed.doc.lc.key(keys[position + 1])
        return int(next_line)
    return _insertion_point_at_end(parsed.lines)


def _images(parsed: _Parsed, where: str) -> CommentedSeq:
    value = parsed.doc.get("images")
    if not isinstance(value, CommentedSeq):
        raise InputError(f"{where}: images", "must be a list with an entry for the image")
    return value


def _image_entry(parsed: _Parsed, name: str, where: str) -> CommentedMap:
    for entry in _images(parsed, where):
        if isinstance(entry, CommentedMap) and entry.get("name") == name:
            return entry
    raise InputError(f"{where}: images", f"has no entry named {name!r}")


def image_tag(text: str, name: str, where: str = "kustomization.yaml") -> str | None:
    """Return the `newTag` of the `images:` entry called `name` (None when unset)."""
    entry = _image_entry(_parse(text, where), name, where)
    tag: Any = entry.get("newTag")
    return None if tag is None else str(tag)


def set_image_tag(text: str, name: str, tag: str, where: str = "kustomization.yaml") -> str:
    """Set `newTag` of the `images:` entry called `name`; the one field CD changes."""
    parsed = _parse(text, where)
    entry = _image_entry(parsed, name, where)
    # Only a string equal to `tag` is already set: `newTag: 0123` reads as a number.
    if isinstance(entry.get("newTag"), str) and entry["newTag"] == tag:
        return text
    lines = list(parsed.lines)
    newline = _newline(lines)
    if "newTag" in entry:
        line, col = entry.lc.value("newTag")
        old = lines[line]
        value_text = old[col:]
        comment = ""
        match = re.search(r"\s+#.*$", value_text.rstrip("\r\n"))
        if match:
            comment = match.group(0)
        lines[line] = f"{old[:col]}{_scalar(tag)}{comment}{newline}"
    else:
        name_line, name_col = entry.lc.key("name")
        lines.insert(name_line + 1, f"{' ' * name_col}newTag: {_scalar(tag)}{newline}")
    return "".join(lines)
