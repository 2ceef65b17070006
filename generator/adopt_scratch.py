"""The scratch copy of an infra repo that `adopt` renders in: no plaintext Secret value in it.

The copy lives in the temp folder, where a killed process leaves it, so it must hold no
secret value in the clear. The folder being adopted is left out (the template is rendered in
its place; its Secrets reach the scratch copy only as sops ciphertext). Every other file that
holds a plaintext `kind: Secret` document (another hand-written service) is copied with the
values of that Secret's `data` and `stringData` replaced by a placeholder. So are the inputs
of every `secretGenerator`: its literals in the kustomization, the files it reads (their
whole content) and its env files (each `KEY=value` line). So are the values kustomize patches
into a Secret, in the kustomization (`patches`, `patchesStrategicMerge`, `patchesJson6902`)
or in a patch file, also one that names no Secret but is aimed at one by its `target`. Key
names stay, so the clusters still build, and Secrets are compared there by key names, their
names without the hash kustomize appends (adopting one service never changes another's
Secret).

Example::

    scratch = scratch_copy(root, Path(tmp), leave_out=root / "apps" / "web")
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from generator import walk
from generator.adopt_diff import dump_yaml
from generator.kustomization import (
    KUSTOMIZATION_NAMES,
    patch_inputs,
    redact_secret_literals,
    replace_scalars,
    secret_generator_inputs,
)

__all__ = [
    "PLACEHOLDER",
    "redact_env_file",
    "redact_secret_patch",
    "redact_secrets",
    "scratch_copy",
]

PLACEHOLDER = "redacted-by-gitops-onboard"
_PLACEHOLDER_B64 = "cmVkYWN0ZWQtYnktZ2l0b3BzLW9uYm9hcmQ="  # base64 of PLACEHOLDER
_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)


def _plaintext_secret(doc: Any) -> bool:
    return (
        isinstance(doc, Mapping)
        and doc.get("kind") == "Secret"
        and "sops" not in doc
        and any(isinstance(doc.get(field), Mapping) for field in ("data", "stringData"))
    )


def _redacted(doc: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    if isinstance(doc.get("data"), Mapping):
        out["data"] = dict.fromkeys(doc["data"], _PLACEHOLDER_B64)
    if isinstance(doc.get("stringData"), Mapping):
        out["stringData"] = dict.fromkeys(doc["stringData"], PLACEHOLDER)
    return out


def redact_secrets(text: str) -> str | None:
    """`text` with each plaintext Secret document's values replaced; None when it has none.

    Other documents keep their exact text. Text that is not YAML is returned unchanged
    (kustomize would not read a Secret from it either).
    """
    starts = [0, *(m.start() for m in _SEPARATOR.finditer(text))]
    chunks = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    changed = False
    out = []
    for chunk in chunks:
        head, body = "", chunk
        if match := _SEPARATOR.match(chunk):
            head, body = chunk[: match.end()] + "\n", chunk[match.end() :].lstrip("\n")
        try:
            doc = yaml.safe_load(body)
        except yaml.YAMLError:
            doc = None
        if _plaintext_secret(doc):
            out.append(head + dump_yaml(_redacted(doc)))
            changed = True
        else:
            out.append(chunk)
    return "".join(out) if changed else None


def _redacted_value(path: str, value: Any) -> Any:
    """A JSON 6902 operation's value at `path` of a Secret, with no secret value left."""
    field = path.lstrip("/").split("/", 1)[0] if path.strip("/") else ""
    if field == "" and isinstance(value, Mapping):
        return _redacted(value)
    if field not in ("data", "stringData"):
        return value
    placeholder = _PLACEHOLDER_B64 if field == "data" else PLACEHOLDER
    if "/" not in path.strip("/"):  # the whole field: keep its keys
        return dict.fromkeys(value, placeholder) if isinstance(value, Mapping) else placeholder
    return placeholder


def redact_secret_patch(text: str, target_kind: str | None) -> str | None:
    """A kustomize patch with every value it writes into a Secret replaced; None if none.

    A strategic-merge patch is a Secret by its `kind`, or by a `target` of kind Secret when
    it names no kind; a JSON 6902 patch (a list of operations) only by its `target`. The
    result is JSON when the patch was written as JSON, YAML otherwise.
    """
    try:
        docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError:
        return None
    as_json = text.lstrip().startswith(("[", "{"))
    if len(docs) == 1 and isinstance(docs[0], list):
        if target_kind != "Secret":
            return None
        ops = [
            {**op, "value": _redacted_value(str(op.get("path", "")), op["value"])}
            if isinstance(op, Mapping) and "value" in op
            else op
            for op in docs[0]
        ]
        if ops == docs[0]:
            return None
        return json.dumps(ops) if as_json else dump_yaml(ops)
    redacted = [
        _redacted(doc)
        if isinstance(doc, Mapping)
        and any(isinstance(doc.get(field), Mapping) for field in ("data", "stringData"))
        and (doc.get("kind") == "Secret" or ("kind" not in doc and target_kind == "Secret"))
        else doc
        for doc in docs
    ]
    if redacted == docs:
        return None
    if as_json and len(redacted) == 1:
        return json.dumps(redacted[0])
    return "---\n".join(dump_yaml(doc) for doc in redacted)


def redact_env_file(data: bytes) -> bytes:
    """An env file of a `secretGenerator` with each `KEY=value` line's value replaced.

    Blank lines, comments and a bare `KEY` (kustomize reads its value from its own
    environment, not from the file) stay as they are, and so do the line breaks.
    """
    lines = data.splitlines(keepends=True)
    out = []
    for line in lines:
        body = line.rstrip(b"\r\n")
        if b"=" in body and not body.lstrip().startswith(b"#"):
            line = body.split(b"=", 1)[0] + b"=" + PLACEHOLDER.encode() + line[len(body) :]
        out.append(line)
    return b"".join(out)


def _regular_file(path: str) -> bytes | None:
    """The bytes of the regular file at `path`, or None.

    None for anything else (reading a named pipe would wait for ever) and for a path that
    does not exist (kustomize fails the build on it).
    """
    try:
        return Path(path).read_bytes() if stat.S_ISREG(os.stat(path).st_mode) else None
    except OSError:
        return None


def _kustomization_redactions(kustomization: Path, text: str) -> dict[str, bytes]:
    """What the scratch copy holds instead of a kustomization's Secret inputs: path -> bytes."""
    folder = kustomization.parent
    redactions: dict[str, bytes] = {}
    written = redact_secret_literals(text, PLACEHOLDER) or text
    patched: dict[str, str] = {}
    for patch in patch_inputs(text):
        if patch.inline is not None:
            if (new := redact_secret_patch(patch.inline, patch.target_kind)) is not None:
                patched[patch.inline] = new
        elif patch.path is not None:
            path = os.path.realpath(folder / patch.path)
            try:
                content = (_regular_file(path) or b"").decode("utf-8")
            except UnicodeDecodeError:
                continue
            if (new := redact_secret_patch(content, patch.target_kind)) is not None:
                redactions[path] = new.encode()
    if patched:
        written = replace_scalars(written, patched)
    if written != text:
        redactions[os.path.realpath(kustomization)] = written.encode()
    inputs = secret_generator_inputs(text)
    # Keyed by the file's real path: a link copies as a link, its target as a file.
    for relative in inputs.files:
        redactions[os.path.realpath(folder / relative)] = PLACEHOLDER.encode()
    for relative in inputs.envs:
        path = os.path.realpath(folder / relative)
        if (env_file := _regular_file(path)) is not None:
            redactions[path] = redact_env_file(env_file)
    return redactions


def _generator_redactions(root: Path, leave_out: Path) -> dict[str, bytes]:
    """What the scratch copy holds instead of each Secret input of a kustomization."""
    redactions: dict[str, bytes] = {}
    for folder, _dirs, names in walk.walk_repo(root, skip={leave_out}):
        for name in names:
            if name not in KUSTOMIZATION_NAMES or (folder / name).is_symlink():
                continue
            try:
                text = (folder / name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "secretGenerator" in text or "patches" in text:  # also patchesJson6902, ...
                redactions.update(_kustomization_redactions(folder / name, text))
    return redactions


def _copier(redactions: dict[str, bytes]) -> Callable[[str, str], str]:
    def copy(source: str, target: str) -> str:
        path = Path(source)
        replacement = redactions.get(os.path.realpath(source))
        if replacement is None and path.name.endswith((".yaml", ".yml")) and not path.is_symlink():
            try:
                redacted = redact_secrets(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                redacted = None
            replacement = None if redacted is None else redacted.encode()
        if replacement is not None and not path.is_symlink():
            Path(target).write_bytes(replacement)
            shutil.copymode(source, target)
            return target
        return str(shutil.copy2(source, target))

    return copy


def _special(path: Path) -> bool:
    """A named pipe, socket or device: git holds none, and copying one would fail or wait."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))


def scratch_copy(root: Path, into: Path, *, leave_out: Path) -> Path:
    """Copy the repo at `root` to `into/infra` without `leave_out` and without plaintext."""
    scratch = into / "infra"
    skipped = {leave_out.resolve()}

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).resolve()
        return {
            name
            for name in names
            if name in walk.SKIPPED_DIRS or (here / name) in skipped or _special(here / name)
        }

    redactions = _generator_redactions(root, leave_out)
    shutil.copytree(root, scratch, symlinks=True, ignore=ignore, copy_function=_copier(redactions))
    return scratch
