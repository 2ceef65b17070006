"""Surgical edits of kustomization files: pure `text -> text` functions.

Edits insert or delete only the entry they are about, so comments (on the list's line, between
and after entries), key order, indentation, unknown keys, document markers, the file's line
breaks (LF, CRLF or CR), a byte-order mark and a missing final line break survive byte for
byte. A block list gains or loses a line; a flow list (`resources: [a, b]  # note`) gains
`, path` after its last item and loses an item with its comma, or its line when the item has
a line of its own. An edit that changes nothing returns the input unchanged, and
`add_resource` followed by `remove_resource` restores the original text. The one change of
layout: a file whose only field is `resources: []` gets a block list from its first entry and
`[]` back when the last one goes (kustomize refuses a kustomization without a field).
ruamel.yaml parses the document; the positions of its events say where to splice.

Example::

    text = add_resource(text, "../../apps/web")   # idempotent
    text = set_image_tag(text, "gitea.example.com/team/web", "3f2c1e0")
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from generator.errors import InputError
from generator.yamltext import double_quoted, new_yaml

__all__ = [
    "add_resource",
    "components",
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
    return new_yaml("rt", preserve_quotes=True)


@functools.lru_cache(maxsize=16)
def _load(text: str) -> Any:
    """The parsed document; an edit re-reads the text it just wrote, so parse each text once.

    Callers only read the result.
    """
    return _yaml().load(text) if text.strip() else CommentedMap()


def _parse(text: str, where: str) -> _Parsed:
    try:
        doc = _load(text)
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


def _resource_seq(parsed: _Parsed, where: str, field: str = "resources") -> CommentedSeq | None:
    value = parsed.doc.get(field)
    if value is None:
        return None
    if not isinstance(value, CommentedSeq):
        raise InputError(f"{where}: {field}", "must be a list of paths")
    for item in value:
        if not isinstance(item, str):
            raise InputError(f"{where}: {field}", "must be a list of paths", item)
    return value


def validate(text: str, where: str = "kustomization.yaml") -> None:
    """Raise `InputError` unless `text` is a kustomization whose `resources` is a list."""
    _resource_seq(_parse(text, where), where)


def resources(text: str, where: str = "kustomization.yaml") -> list[str]:
    """Return the `resources` entries of a kustomization, in order."""
    seq = _resource_seq(_parse(text, where), where)
    return [] if seq is None else [str(item) for item in seq]


def components(text: str, where: str = "kustomization.yaml") -> list[str]:
    """Return the `components` entries of a kustomization, in order."""
    seq = _resource_seq(_parse(text, where), where, "components")
    return [] if seq is None else [str(item) for item in seq]


def _same_path(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _scalar(value: str, *, flow: bool = False) -> str:
    plain = _PLAIN_SAFE.fullmatch(value) and not _YAML11_SPECIAL.fullmatch(value)
    if plain and not (flow and ":" in value):
        return value
    return double_quoted(value)


# ── line breaks: a file keeps its own (LF, CRLF or CR) and a missing final one ────────────

_BREAK = re.compile(r"\r\n|\r|\n")


def _newline(text: str) -> str:
    """The file's line break: its first one, LF for a file of one line."""
    match = _BREAK.search(text)
    return match.group(0) if match else "\n"


def _line_start(text: str, index: int) -> int:
    return max(text.rfind("\n", 0, index), text.rfind("\r", 0, index)) + 1


def _next_line(text: str, index: int) -> int:
    """Index of the line after the one holding `index` (`len(text)` on the last line)."""
    if index > 0 and text[index - 1] in "\r\n" and index == _line_start(text, index):
        return index  # a block scalar ends after its final line break
    match = _BREAK.search(text, index)
    return match.end() if match else len(text)


def _insert_lines(text: str, at: int, lines: list[str]) -> str:
    """Insert whole lines at line start `at`, ending each with the file's line break."""
    newline = _newline(text)
    block = "".join(line + newline for line in lines)
    if at == len(text) and text and text[-1] not in "\r\n":
        return text + newline + block
    return text[:at] + block + text[at:]


def _keep_final_break(original: str, edited: str) -> str:
    """A file that ended without a line break still does after an edit."""
    if original and original[-1] not in "\r\n":
        return edited.rstrip("\r\n") if edited.endswith(("\r", "\n")) else edited
    return edited


def _insertion_point_at_end(text: str) -> int:
    """Index before a trailing `...` document-end marker and the blank lines before it."""
    lines = text.splitlines(keepends=True)
    end = len(lines)
    while end > 0 and lines[end - 1].strip() == "":
        end -= 1
    if end > 0 and lines[end - 1].strip() == "...":
        return sum(len(line) for line in lines[: end - 1])
    return len(text)


# ── where `resources` sits in the text, from the parser's events ───────────────────────────


@dataclass(frozen=True)
class _Span:
    start: int
    end: int


@dataclass(frozen=True)
class _Value:
    """The text spans of the top-level `resources` key, its value and each list item."""

    kind: str  # "scalar" (a null), "flow" or "block"
    key: _Span
    span: _Span
    items: tuple[_Span, ...]


def _span(event: Any) -> _Span:
    return _Span(int(event.start_mark.index), int(event.end_mark.index))


@functools.lru_cache(maxsize=16)
def _resources_value(text: str, field: str = "resources") -> _Value | None:
    """Locate `field` (`resources`) from the parser's events (their marks index into `text`)."""
    depth = 0
    nodes = 0  # nodes started in the top-level mapping: even ones are keys
    key: _Span | None = None
    start: Any = None
    items: list[_Span] = []
    for event in _yaml().parse(text):
        opens = isinstance(event, (MappingStartEvent, SequenceStartEvent))
        if opens or isinstance(event, (ScalarEvent, AliasEvent)):
            if depth == 1:
                is_key = nodes % 2 == 0
                nodes += 1
                if key is not None and not is_key:
                    if not opens:
                        return _Value("scalar", key, _span(event), ())
                    start = event
                elif key is not None:
                    return None  # `resources` held a value that ended above
                elif is_key and isinstance(event, ScalarEvent) and event.value == field:
                    key = _span(event)
            elif depth == 2 and start is not None:
                items.append(_span(event))
            depth += opens
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            depth -= 1
            if depth == 1 and start is not None and key is not None:
                kind = "flow" if start.flow_style else "block"
                span = _Span(_span(start).start, _span(event).end)
                return _Value(kind, key, span, tuple(items))
    return None


# ── the edits ─────────────────────────────────────────────────────────────────────────────


def add_resource(
    text: str, path: str, where: str = "kustomization.yaml", field: str = "resources"
) -> str:
    """Append `path` to `resources` (or `components`) unless an equal entry is listed."""
    parsed = _parse(text, where)
    seq = _resource_seq(parsed, where, field)
    if seq is not None and any(_same_path(str(item), path) for item in seq):
        return text
    value = _resources_value(text, field)
    if value is None:
        at = _insertion_point_at_end(text)
        edited = _insert_lines(text, at, [f"{field}:", f"- {_scalar(path)}"])
    elif value.kind == "scalar":
        edited = _add_to_null(text, value, path)
    elif value.kind == "flow":
        edited = _add_to_flow(parsed, text, value, path, field)
    else:
        last = value.items[-1]
        prefix = text[_line_start(text, last.start) : last.start]
        edited = _insert_lines(text, _next_line(text, last.end), [f"{prefix}{_scalar(path)}"])
    return _keep_final_break(text, edited)


def _add_to_null(text: str, value: _Value, path: str) -> str:
    """`resources:` with no value takes a block entry; `resources: ~` becomes `[path]`."""
    if value.span.start == value.span.end:
        indent = text[_line_start(text, value.key.start) : value.key.start]
        at = _next_line(text, value.key.end)
        return _insert_lines(text, at, [f"{indent}- {_scalar(path)}"])
    span = value.span
    return f"{text[: span.start]}[{_scalar(path, flow=True)}]{text[span.end :]}"


_EMPTY_FLOW = re.compile(r"(?P<indent>[ ]*)resources: \[\](?:\r\n|\r|\n)?")


def _add_to_flow(
    parsed: _Parsed, text: str, value: _Value, path: str, field: str = "resources"
) -> str:
    span = value.span
    if not value.items:
        line_start = _line_start(text, span.start)
        line_end = _next_line(text, span.end)
        match = _EMPTY_FLOW.fullmatch(text, line_start, line_end)
        if match is not None and field == "resources" and _only_resources(parsed):
            # The list a new cluster file starts with becomes a block list from its first
            # entry (and `remove_resource` turns the emptied block list back into `[]`).
            indent = match["indent"]
            block = [f"{indent}resources:", f"{indent}- {_scalar(path)}"]
            return _insert_lines(text[:line_start] + text[line_end:], line_start, block)
        at = span.start + 1
        return f"{text[:at]}{_scalar(path, flow=True)}{text[at:]}"
    at = value.items[-1].end
    return f"{text[:at]}, {_scalar(path, flow=True)}{text[at:]}"


def remove_resource(
    text: str, path: str, where: str = "kustomization.yaml", field: str = "resources"
) -> str:
    """Remove every `resources` (or `components`) entry equal to `path`.

    The key goes when its list empties.
    """
    parsed = _parse(text, where)
    seq = _resource_seq(parsed, where, field)
    if seq is None:
        return text
    doomed = [i for i, item in enumerate(seq) if _same_path(str(item), path)]
    if not doomed:
        return text
    value = _resources_value(text, field)
    assert value is not None and len(value.items) == len(seq)
    if value.kind == "flow":
        edited = _remove_from_flow(text, value.items, doomed)
    else:
        edited = text
        for index in reversed(doomed):
            item = value.items[index]
            start = _line_start(edited, item.start)
            edited = edited[:start] + edited[_next_line(edited, item.end) :]
        if len(doomed) == len(seq):
            edited = _drop_empty_block(parsed, edited, value.key, field)
    return _keep_final_break(text, edited)


_TRAILING_COMMA = re.compile(r"[ \t]*,")
_REST_OF_ITEM_LINE = re.compile(r"[ \t]*,?[ \t]*(?:#[^\r\n]*)?(?:\r\n|\r|\n)?")


def _own_line(text: str, item: _Span) -> _Span | None:
    """The whole line of a flow item written on a line of its own (`  item,  # note`)."""
    start = _line_start(text, item.start)
    end = _next_line(text, item.end)
    if text[start : item.start].strip(" \t") or not _REST_OF_ITEM_LINE.fullmatch(
        text, item.end, end
    ):
        return None
    return _Span(start, end)


def _remove_from_flow(text: str, items: tuple[_Span, ...], doomed: list[int]) -> str:
    """Delete each doomed item: its own line, or the item and the comma joining it on."""
    kept = [i for i in range(len(items)) if i not in doomed]
    cuts: list[_Span] = []
    for index in doomed:
        after = [i for i in kept if i > index]
        before = [i for i in kept if i < index]
        line = _own_line(text, items[index])
        if line is not None:
            cuts.append(line)
        elif after:
            cuts.append(_Span(items[index].start, items[after[0]].start))
        elif before:
            cuts.append(_Span(items[before[-1]].end, items[index].end))
        else:  # the only entry left: its trailing comma goes too (`[a,]` -> `[]`)
            comma = _TRAILING_COMMA.match(text, items[index].end)
            cuts.append(_Span(items[index].start, comma.end() if comma else items[index].end))
    merged: list[_Span] = []
    for cut in sorted(cuts, key=lambda c: (c.start, c.end)):
        if merged and cut.start <= merged[-1].end:
            merged[-1] = _Span(merged[-1].start, max(merged[-1].end, cut.end))
        else:
            merged.append(cut)
    for cut in reversed(merged):
        text = text[: cut.start] + text[cut.end :]
    return text


def _drop_empty_block(parsed: _Parsed, text: str, key: _Span, field: str = "resources") -> str:
    """`resources:` left with no entry: `[]` where kustomize needs a field, else gone.

    The key sits above its items, so `key` still indexes `text` after they were cut.
    """
    start = _line_start(text, key.start)
    end = _next_line(text, key.end)
    line = text[start:end]
    body = line.rstrip("\r\n")
    if body.strip() != f"{field}:":
        return text
    if field == "resources" and _only_resources(parsed):
        # Without any field kustomize refuses the file ("kustomization.yaml is empty"),
        # and Flux with it: keep an empty list.
        indent = text[start : key.start]
        return f"{text[:start]}{indent}resources: []{line[len(body) :]}{text[end:]}"
    return text[:start] + text[end:]


def _only_resources(parsed: _Parsed) -> bool:
    """True when `resources` is the kustomization's only field besides apiVersion and kind.

    Such a file with an empty list is the one kustomize refuses without the list, so it is
    the one place `resources: []` and a block list trade places.
    """
    return set(parsed.doc) <= {"apiVersion", "kind", "resources"}


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
    if "newTag" in entry:
        line, col = entry.lc.value("newTag")
        body = lines[line].rstrip("\r\n")
        match = re.search(r"\s+#.*$", body[col:])
        comment = match.group(0) if match else ""
        lines[line] = f"{body[:col]}{_scalar(tag)}{comment}{lines[line][len(body) :]}"
        return "".join(lines)
    name_line, name_col = entry.lc.key("name")
    at = sum(len(line) for line in lines[: name_line + 1])
    edited = _insert_lines(text, at, [f"{' ' * name_col}newTag: {_scalar(tag)}"])
    return _keep_final_break(text, edited)


# ── secretGenerator: where a kustomization takes Secret values from ───────────────────────

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class SecretInputs:
    """What a kustomization's `secretGenerator` entries make Secrets from.

    `files` and `envs` are paths as written, relative to the kustomization's folder (`files`
    entries without their `key=`; `envs` with the old single `env`).
    """

    literals: frozenset[str]
    files: tuple[str, ...]
    envs: tuple[str, ...]


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(item) for item in items if item is not None]


def secret_generator_inputs(text: str) -> SecretInputs:
    """The literals, files and env files of every `secretGenerator` entry in `text`.

    Anchors, aliases and merge keys are resolved as kustomize resolves them. Text that is not
    a YAML mapping has none (kustomize would not read it either).
    """
    try:
        doc = _load(text)
    except YAMLError:
        doc = None
    generators = doc.get("secretGenerator") if isinstance(doc, CommentedMap) else None
    literals: set[str] = set()
    files: list[str] = []
    envs: list[str] = []
    for entry in generators if isinstance(generators, list) else []:
        if not isinstance(entry, dict):
            continue
        literals.update(_strings(entry.get("literals")))
        files += [f.split("=", 1)[1] if "=" in f else f for f in _strings(entry.get("files"))]
        envs += _strings(entry.get("envs")) + _strings(entry.get("env"))
    return SecretInputs(frozenset(literals), tuple(files), tuple(envs))


def replace_scalars(text: str, replacements: dict[str, str]) -> str:
    """`text` with every scalar whose value is a key of `replacements` written as its value.

    Each replacement is one double-quoted scalar where the old one was written, however it
    was written (plain, quoted, a block scalar); every other byte stays as written.
    """
    spans = [
        (_span(event), replacements[str(event.value)])
        for event in _yaml().parse(text)
        if isinstance(event, ScalarEvent) and str(event.value) in replacements
    ]
    for span, value in reversed(spans):
        written = text[span.start : span.end]
        after = _newline(text) if written.endswith(("\n", "\r")) else ""
        text = f"{text[: span.start]}{double_quoted(value)}{after}{text[span.end :]}"
    return text


def redact_secret_literals(text: str, placeholder: str) -> str | None:
    """`text` with each `secretGenerator` literal's value replaced; None when it has none.

    `KEY=value` becomes `"KEY=<placeholder>"` wherever the literal is written (under the
    generator, or at an anchor it is aliased from), so the generated Secret keeps its keys;
    every other byte of the file stays as written.
    """
    literals = secret_generator_inputs(text).literals
    if not literals:
        return None
    return replace_scalars(
        text,
        {
            value: (value.split("=", 1)[0] + "=" if "=" in value else "") + placeholder
            for value in literals
        },
    )


# ── patches: where a kustomization may write values into a Secret ─────────────────────────


@dataclass(frozen=True)
class PatchInput:
    """One patch of a kustomization, and the kind its `target` selects if it names one.

    `inline` is the patch's text when written in the kustomization, `path` its file
    (relative to the kustomization's folder) otherwise.
    """

    inline: str | None
    path: str | None
    target_kind: str | None


def _target_kind(entry: dict[str, Any]) -> str | None:
    target = entry.get("target")
    kind = target.get("kind") if isinstance(target, dict) else None
    return str(kind) if kind is not None else None


def _inline_or_path(value: str) -> tuple[str | None, str | None]:
    # `patchesStrategicMerge` takes a file or a patch in one string; a patch is a mapping.
    try:
        parsed = _load(value)
    except YAMLError:
        parsed = None
    return (value, None) if isinstance(parsed, dict) else (None, value)


def patch_inputs(text: str) -> tuple[PatchInput, ...]:
    """Every patch of `patches`, `patchesStrategicMerge` and `patchesJson6902` in `text`.

    Anchors, aliases and merge keys are resolved as kustomize resolves them. Text that is not
    a YAML mapping has none.
    """
    try:
        doc = _load(text)
    except YAMLError:
        doc = None
    if not isinstance(doc, CommentedMap):
        return ()
    found: list[PatchInput] = []
    for field in ("patches", "patchesJson6902"):
        entries = doc.get(field)
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict):
                continue
            inline, path = entry.get("patch"), entry.get("path")
            found.append(
                PatchInput(
                    inline if isinstance(inline, str) else None,
                    path if isinstance(path, str) else None,
                    _target_kind(entry),
                )
            )
    merges = doc.get("patchesStrategicMerge")
    for entry in merges if isinstance(merges, list) else []:
        if isinstance(entry, str):
            found.append(PatchInput(*_inline_or_path(entry), None))
    return tuple(found)
