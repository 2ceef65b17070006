"""Find plaintext secrets in an infra repo.

A finding is any `kind: Secret` document with values but no sops metadata, any value of an
encrypted Secret that is not an `ENC[...]` string, any `*.enc.yaml` that is not encrypted,
and any encrypted Secret that the `sops` CLI cannot decrypt after a kustomize build (metadata
encrypted, no `mac_only_encrypted`, keys out of the order kustomize writes them in).
The repo's `.sops.yaml` rule for `*.enc.yaml` is checked too. Only text is read; no key is
needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from generator.errors import InputError
from generator.sopsconfig import enc_rule_problems

__all__ = ["Finding", "audit", "audit_text"]

_SKIP_DIRS = {".git", "node_modules", ".venv"}
_SECRET_KIND = re.compile(r"^\s*kind:\s*[\"']?Secret[\"']?\s*(#.*)?$", re.M)
_ENCRYPTED = re.compile(r"^ENC\[[A-Z0-9_]+,data:")


@dataclass(frozen=True)
class Finding:
    """One problem in one file."""

    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


def _is_encrypted_name(name: str) -> bool:
    return name.endswith((".enc.yaml", ".enc.yml"))


def audit_text(text: str, where: str) -> list[Finding]:
    """The findings for one file's text; `where` is its path (its name decides the rules)."""
    encrypted_name = _is_encrypted_name(where)
    try:
        docs = [d for d in YAML(typ="safe", pure=True).load_all(text) if d is not None]
    except YAMLError:
        return [Finding(where, "cannot be read as YAML")] if encrypted_name else []
    findings: list[Finding] = []
    if encrypted_name and not any(isinstance(d, dict) and "sops" in d for d in docs):
        findings.append(Finding(where, "is named *.enc.yaml but is not encrypted with sops"))
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        kind = str(doc.get("kind", ""))
        if _ENCRYPTED.match(kind):
            findings.append(
                Finding(
                    where,
                    "kind and metadata are encrypted, so kustomize cannot read it; encrypt "
                    "with encrypted_regex: ^(data|stringData)$",
                )
            )
        elif kind == "Secret":
            findings += [Finding(where, p) for p in _secret_problems(doc)]
    return findings


def _secret_problems(doc: dict[str, Any]) -> list[str]:
    name = str((doc.get("metadata") or {}).get("name", "?"))
    sections = {s: doc[s] for s in ("data", "stringData") if isinstance(doc.get(s), dict)}
    metadata = doc.get("sops")
    if not isinstance(metadata, dict):
        if any(sections.values()):
            return [
                f"Secret {name} holds plaintext values (no sops metadata); keep values in an "
                "encrypted *.enc.yaml (gitops-onboard secrets set, pull-secret set)"
            ]
        return []
    problems = [
        f"Secret {name}: {section}.{key} is not encrypted"
        for section, mapping in sections.items()
        for key, value in mapping.items()
        if not (isinstance(value, str) and _ENCRYPTED.match(value))
    ]
    if metadata.get("mac_only_encrypted") is not True:
        problems.append(
            f"Secret {name} was encrypted without mac_only_encrypted: true, so `sops decrypt` "
            "of the kustomize build fails its MAC check; re-create it under the repo's .sops.yaml"
        )
    for section, mapping in sections.items():
        keys = [str(k) for k in mapping]
        if keys != sorted(keys):
            problems.append(
                f"Secret {name}: the keys of {section} are not sorted; kustomize sorts them, "
                "so `sops decrypt` of the build fails its MAC check"
            )
    return problems


def _candidates(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        if any(part in _SKIP_DIRS for part in path.relative_to(root).parts[:-1]):
            continue
        yield path


def audit(root: Path) -> list[Finding]:
    """Every finding under `root`: its YAML files (git internals skipped) and its `.sops.yaml`."""
    findings: list[Finding] = []
    config = root / ".sops.yaml"
    if config.is_file():
        try:
            problems = enc_rule_problems(config.read_text(encoding="utf-8"))
        except InputError as error:
            problems = [str(error).removeprefix(".sops.yaml: ")]
        findings += [Finding(".sops.yaml", f"the rule for *.enc.yaml: {p}") for p in problems]
    for path in _candidates(root):
        where = path.relative_to(root).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            if _is_encrypted_name(path.name):
                findings.append(Finding(where, "cannot be read as UTF-8 text"))
            continue
        if _is_encrypted_name(path.name) or _SECRET_KIND.search(text):
            findings += audit_text(text, where)
    return findings
