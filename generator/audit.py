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
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from generator.errors import InputError
from generator.findings import Finding
from generator.placeholders import placeholder_problems
from generator.sopsconfig import enc_rule_problems
from generator.sopsmeta import enc_problem, metadata_problems
from generator.sopsverify import KeysAtHand, Verified, keys_at_hand, verify
from generator.walk import repo_files
from generator.yamltext import new_yaml

__all__ = ["Finding", "audit", "audit_text"]

_SECRET_KIND = re.compile(r"^\s*kind:\s*[\"']?Secret[\"']?\s*(#.*)?$", re.M)
_ENCRYPTED = re.compile(r"^ENC\[[A-Z0-9_]+,data:")


_DAMAGED_FIX = (
    "restore {file} from git (`git log -p -- {file}` shows when it changed), or set its "
    "values again (gitops-onboard secrets set / pull-secret set)"
)


def _found(where: str, problem: str, fix: str = "") -> Finding:
    return Finding("secret", where, problem, fix)


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
        return [_found(where, "cannot be read as YAML")] if encrypted_name else []
    findings: list[Finding] = []
    if verified is not None:
        findings += [_found(where, p, _DAMAGED_FIX.format(file=where)) for p in verified.problems]
    plain = list(verified.plaintext) if verified and verified.plaintext else []
    plain = [d for d in plain if d is not None]
    if encrypted_name and not any(isinstance(d, dict) and "sops" in d for d in docs):
        findings.append(_found(where, "is named *.enc.yaml but is not encrypted with sops"))
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        kind = str(doc.get("kind", ""))
        if _ENCRYPTED.match(kind):
            findings.append(
                _found(
                    where,
                    "kind and metadata are encrypted, so kustomize cannot read it; encrypt "
                    "with encrypted_regex: ^(data|stringData)$",
                )
            )
        elif kind == "Secret":
            findings += [_found(where, p) for p in _secret_problems(doc)]
            if isinstance(doc.get("sops"), dict):
                decrypted = _counterpart(doc, docs, plain)
                findings += [
                    _found(where, p.message, p.fix) for p in placeholder_problems(doc, decrypted)
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
    for path in sorted(repo_files(root)):
        if path.suffix in (".yaml", ".yml") and path.is_file():
            yield path


def sops_config_findings(config: Path, where: str = ".sops.yaml") -> list[Finding]:
    """The `.sops.yaml` at `config` checked against the rule `*.enc.yaml` files need."""
    try:
        problems = enc_rule_problems(config.read_text(encoding="utf-8"))
    except InputError as error:
        problems = [str(error).removeprefix(".sops.yaml: ")]
    return [_found(where, f"the rule for *.enc.yaml: {problem}") for problem in problems]


def audit(root: Path, at_hand: KeysAtHand | None = None) -> list[Finding]:
    """Every finding under `root`: its YAML files (git internals skipped) and its `.sops.yaml`.

    Files are decrypted in memory with `at_hand` (default: the keys sops would load).
    """
    keys = keys_at_hand() if at_hand is None else at_hand
    findings: list[Finding] = []
    config = root / ".sops.yaml"
    if config.is_file():
        findings += sops_config_findings(config)
    for path in _candidates(root):
        where = path.relative_to(root).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            if _is_encrypted_name(path.name):
                findings.append(_found(where, "cannot be read as UTF-8 text"))
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
