"""Find plaintext, damaged and unfinished secrets in an infra repo.

A finding is any `kind: Secret` document with values but no sops metadata, any value of an
encrypted Secret that is not an `ENC[...]` string, any `*.enc.yaml` that is not encrypted,
and any encrypted Secret that the `sops` CLI cannot decrypt after a kustomize build (metadata
encrypted, no `mac_only_encrypted`, keys out of the order kustomize writes them in).
The repo's `.sops.yaml` rule for `*.enc.yaml` is checked too.

Every encrypted Secret must also have the shape sops gives it (`generator.sopsmeta`: each
value a well-formed `ENC[...]`, a complete `sops` block whose age stanzas parse), and must
not hold what onboarding wrote for a value nobody has given (`generator.placeholders`).
All of that is read from the text; no key is needed. When a private key for a file is at
hand, the file is also decrypted in memory (`generator.sopsverify`), which proves its values
and MAC intact and names the key of each that is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from generator.errors import InputError
from generator.placeholders import placeholder_problems
from generator.sopsconfig import enc_rule_problems
from generator.sopsmeta import enc_problem, metadata_problems
from generator.sopsverify import KeysAtHand, Verified, keys_at_hand, verify
from generator.yamltext import new_yaml

__all__ = ["Finding", "audit", "audit_text"]

_SKIP_DIRS = {".git", "node_modules", ".venv"}
_SECRET_KIND = re.compile(r"^\s*kind:\s*[\"']?Secret[\"']?\s*(#.*)?$", re.M)
_ENCRYPTED = re.compile(r"^ENC\[[A-Z0-9_]+,data:")


_DAMAGED_FIX = (
    "restore {file} from git (`git log -p -- {file}` shows when it changed), or set its "
    "values again (gitops-onboard secrets set / pull-secret set)"
)


@dataclass(frozen=True)
class Finding:
    """One problem in one file; `fix` says what to run when it is specific to the problem."""

    file: str
    problem: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}" + (f" (fix: {self.fix})" if self.fix else "")


def _is_encrypted_name(name: str) -> bool:
    return name.endswith((".enc.yaml", ".enc.yml"))


def _load(text: str) -> list[Any]:
    return [d for d in new_yaml().load_all(text) if d is not None]


def audit_text(text: str, where: str, verified: Verified | None = None) -> list[Finding]:
    """The findings for one file's text; `where` is its path (its name decides the rules).

    `verified` is the outcome of decrypting the file, when a key for it was at hand.
    """
    encrypted_name = _is_encrypted_name(where)
    try:
        docs = _load(text)
    except YAMLError:
        return [Finding(where, "cannot be read as YAML")] if encrypted_name else []
    findings: list[Finding] = []
    if verified is not None:
        findings += [Finding(where, p, _DAMAGED_FIX.format(file=where)) for p in verified.problems]
    plain = list(verified.plaintext) if verified and verified.plaintext else []
    plain = [d for d in plain if d is not None]
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
            if isinstance(doc.get("sops"), dict):
                decrypted = _counterpart(doc, docs, plain)
                findings += [
                    Finding(where, p.message, p.fix) for p in placeholder_problems(doc, decrypted)
                ]
    return findings


def _counterpart(doc: dict[str, Any], docs: list[Any], plain: list[Any]) -> Any:
    """The decrypted document of `doc` (sops keeps their order), or None."""
    encrypted = [d for d in docs if isinstance(d, dict) and "sops" in d]
    if len(plain) != len(encrypted):
        return None
    found = plain[next(i for i, d in enumerate(encrypted) if d is doc)]
    return found if isinstance(found, dict) else None


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
    problems = []
    for section, mapping in sections.items():
        for key, value in mapping.items():
            if not (isinstance(value, str) and _ENCRYPTED.match(value)):
                problems.append(f"Secret {name}: {section}.{key} is not encrypted")
            elif problem := enc_problem(value):
                problems.append(f"{section}.{key} is not a well-formed sops value: {problem}")
    problems += metadata_problems(metadata)
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


def audit(root: Path, at_hand: KeysAtHand | None = None) -> list[Finding]:
    """Every finding under `root`: its YAML files (git internals skipped) and its `.sops.yaml`.

    Files are decrypted in memory with `at_hand` (default: the keys sops would load).
    """
    keys = keys_at_hand() if at_hand is None else at_hand
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
            findings += audit_text(text, where, _decrypted(text, where, keys))
    return findings


def _decrypted(text: str, where: str, keys: KeysAtHand) -> Verified | None:
    if not keys or "sops:" not in text:
        return None
    try:
        docs = _load(text)
    except YAMLError:
        return None
    outcome = verify(text, docs, keys, where)
    return outcome if outcome.attempted else None
