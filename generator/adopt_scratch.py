"""The scratch copy of an infra repo that `adopt` renders in: no plaintext Secret value in it.

The copy lives in the temp folder, where a killed process leaves it, so it must hold no
secret value in the clear. The folder being adopted is left out (the template is rendered in
its place; its Secrets reach the scratch copy only as sops ciphertext). Every other file that
holds a plaintext `kind: Secret` document (another hand-written service) is copied with the
values of that Secret's `data` and `stringData` replaced by a placeholder: its key names
stay, so the clusters still build, and Secrets are compared by key names there (adopting one
service never changes another's Secret).

Example::

    scratch = scratch_copy(root, Path(tmp), leave_out=root / "apps" / "web")
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from generator import walk
from generator.adopt_diff import dump_yaml

__all__ = ["PLACEHOLDER", "redact_secrets", "scratch_copy"]

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


def _copy(source: str, target: str) -> str:
    path = Path(source)
    if path.name.endswith((".yaml", ".yml")) and not path.is_symlink():
        try:
            redacted = redact_secrets(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            redacted = None
        if redacted is not None:
            Path(target).write_text(redacted, encoding="utf-8")
            shutil.copymode(source, target)
            return target
    return str(shutil.copy2(source, target))


def scratch_copy(root: Path, into: Path, *, leave_out: Path) -> Path:
    """Copy the repo at `root` to `into/infra` without `leave_out` and without plaintext."""
    scratch = into / "infra"
    skipped = {leave_out.resolve()}

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder).resolve()
        return {name for name in names if name in walk.SKIPPED_DIRS or (here / name) in skipped}

    shutil.copytree(root, scratch, symlinks=True, ignore=ignore, copy_function=_copy)
    return scratch
