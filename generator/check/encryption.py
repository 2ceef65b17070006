"""Is every Secret encrypted? Read from the files alone: no key and no `sops` run needed.

A document encrypted by sops carries a top-level `sops` mapping with its `mac`, and with the
infra repo's rule (`encrypted_regex: ^(data|stringData)$`) every value under `data` and
`stringData` is an `ENC[...]` string while the keys stay readable. So the check can tell:

- a `*.enc.yaml` file whose documents lack sops metadata or hold a plain value;
- a `kind: Secret` document anywhere else in the repo without sops metadata (plaintext);
- a Secret in a cluster's build output without sops metadata;
- which keys an encrypted Secret holds, to compare with the `secret_keys` a service declares.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from generator.check.findings import Finding

__all__ = [
    "SECRETS_FILE",
    "declared_keys_findings",
    "has_sops_metadata",
    "plain_values",
    "scan_files",
    "secret_keys",
]

SECRETS_FILE = "secrets.enc.yaml"
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENCRYPTED = re.compile(r"^ENC\[[A-Za-z0-9_]+,data:.*\]$", re.S)
_SECRET_KIND = re.compile(r"^\s*kind:\s*[\"']?Secret[\"']?\s*(#.*)?$", re.M)
_SKIPPED_DIRS = frozenset({".git", "node_modules", ".venv"})


def has_sops_metadata(doc: object) -> bool:
    """True when `doc` carries the `sops` metadata that encryption adds."""
    return (
        isinstance(doc, Mapping) and isinstance(doc.get("sops"), Mapping) and "mac" in doc["sops"]
    )


def plain_values(doc: Mapping[str, Any]) -> list[str]:
    """The `data`/`stringData` keys of a Secret whose values are not encrypted."""
    plain: list[str] = []
    for field in ("data", "stringData"):
        values = doc.get(field)
        if isinstance(values, Mapping):
            plain.extend(
                f"{field}.{key}"
                for key, value in values.items()
                if not (isinstance(value, str) and _ENCRYPTED.match(value))
            )
    return plain


def secret_keys(doc: Mapping[str, Any]) -> set[str]:
    """The keys a Secret holds (readable without decrypting)."""
    keys: set[str] = set()
    for field in ("data", "stringData"):
        values = doc.get(field)
        if isinstance(values, Mapping):
            keys.update(str(key) for key in values)
    return keys


def _documents(text: str) -> list[Any]:
    return [doc for doc in yaml.load_all(text, Loader=_LOADER) if doc is not None]


def _yaml_files(root: Path) -> Iterator[Path]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(names):
            if name.endswith((".yaml", ".yml")) and not name.startswith(".copier-answers"):
                yield Path(folder) / name


def _describe(doc: Mapping[str, Any]) -> str:
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return f"{doc.get('kind') or 'document'} {name or '(unnamed)'}"


def _check_encrypted_file(where: str, docs: list[Any]) -> list[Finding]:
    found = []
    for doc in docs:
        if not has_sops_metadata(doc):
            found.append(
                Finding(
                    "secret",
                    where,
                    f"{_describe(doc) if isinstance(doc, Mapping) else 'a document'} is not "
                    "encrypted (no sops metadata)",
                    f"encrypt it in place: sops --encrypt --in-place {where}",
                )
            )
        elif doc.get("kind") == "Secret" and (plain := plain_values(doc)):
            field, key = plain[0].split(".", 1)
            found.append(
                Finding(
                    "secret",
                    where,
                    f"{_describe(doc)} holds plain values: {', '.join(plain)}",
                    "set each plain value again so sops encrypts it, value on stdin: "
                    f'sops set --value-stdin {where} \'["{field}"]["{key}"]\'',
                )
            )
    return found


def scan_files(root: Path, display: Path) -> list[Finding]:
    """Encryption findings for every YAML file below `root`; paths relative to `display`."""
    found: list[Finding] = []
    for path in _yaml_files(root):
        where = path.relative_to(display).as_posix()
        encrypted_file = path.name.endswith((".enc.yaml", ".enc.yml"))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            found.append(Finding("secret", where, f"cannot be read: {error}"))
            continue
        if not encrypted_file and not _SECRET_KIND.search(text):
            continue
        try:
            docs = _documents(text)
        except yaml.YAMLError as error:
            found.append(Finding("secret", where, f"is not valid YAML: {error.__class__.__name__}"))
            continue
        if encrypted_file:
            found.extend(_check_encrypted_file(where, docs))
            continue
        found.extend(
            Finding(
                "secret",
                where,
                f"{_describe(doc)} is a plaintext Secret in the repo",
                "move its values into an encrypted *.enc.yaml file (gitops-onboard secrets set) "
                "and delete this one",
            )
            for doc in docs
            if isinstance(doc, Mapping) and doc.get("kind") == "Secret"
            if not has_sops_metadata(doc)
        )
    return found


def declared_keys_findings(
    folder: Path, service: str, declared: list[str], display: Path
) -> list[Finding]:
    """Findings when a service declares `secret_keys` that its encrypted Secret lacks."""
    if not declared:
        return []
    path = folder / SECRETS_FILE
    where = path.relative_to(display).as_posix()
    set_command = f"gitops-onboard secrets set {service} KEY"
    if not path.is_file():
        return [
            Finding(
                "secret",
                where,
                f"is missing; the service declares secret_keys {', '.join(declared)}",
                f"set each value: {set_command}",
            )
        ]
    try:
        docs = _documents(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return [Finding("secret", where, f"cannot be read: {error.__class__.__name__}")]
    secrets = [d for d in docs if isinstance(d, Mapping) and d.get("kind") == "Secret"]
    named = [d for d in secrets if _describe(d) == f"Secret {service}-secrets"]
    held: set[str] = set()
    for doc in named or secrets:
        held |= secret_keys(doc)
    missing = [key for key in declared if key not in held]
    if not missing:
        return []
    return [
        Finding(
            "secret",
            where,
            f"lacks the declared secret key{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            f"set each value: {set_command}",
        )
    ]
