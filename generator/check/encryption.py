"""Is every Secret encrypted, intact and set? Read from the files; decrypted when a key is at hand.

The files of the repo are checked by `generator.audit` (the rules of `secrets audit`: no
plaintext `kind: Secret`, every `*.enc.yaml` encrypted with the repo's rule and shaped as
sops writes it, no placeholder left, and, with a private key at hand, every file decrypts
in memory with its MAC intact). On top of it:

- a Secret in a cluster's build output must carry sops metadata (a top-level `sops` mapping
  with its `mac`), or Flux would apply it as it is;
- the keys of an encrypted Secret stay readable (`encrypted_regex: ^(data|stringData)$`
  encrypts values only), so the `secret_keys` a service declares can be compared with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from generator import service_secrets
from generator.audit import audit, sops_config_findings
from generator.check.findings import Finding
from generator.errors import InputError
from generator.service_secrets import SECRETS_FILE

__all__ = [
    "SECRETS_FILE",
    "audit_findings",
    "declared_keys_findings",
    "has_sops_metadata",
    "secret_keys",
]

_AUDIT_FIX = (
    "keep Secret values in encrypted *.enc.yaml files under the repo's .sops.yaml "
    "(gitops-onboard secrets set, pull-secret set); gitops-onboard secrets audit lists them"
)


def has_sops_metadata(doc: object) -> bool:
    """True when `doc` carries the `sops` metadata that encryption adds."""
    return (
        isinstance(doc, Mapping) and isinstance(doc.get("sops"), Mapping) and "mac" in doc["sops"]
    )


def secret_keys(doc: Mapping[str, Any]) -> set[str]:
    """The keys a Secret holds (readable without decrypting)."""
    keys: set[str] = set()
    for field in ("data", "stringData"):
        values = doc.get(field)
        if isinstance(values, Mapping):
            keys.update(str(key) for key in values)
    return keys


def audit_findings(root: Path, display: Path, infra_roots: Iterable[Path] = ()) -> list[Finding]:
    """`gitops-onboard secrets audit` of every file below `root`, as check findings.

    The audit reads `root/.sops.yaml`; the `.sops.yaml` of an infra repo further down is
    checked here too.
    """
    found = [
        Finding("secret", _shown(root / f.file, display), f.problem, f.fix or _AUDIT_FIX)
        for f in audit(root)
    ]
    for infra in infra_roots:
        config = infra / ".sops.yaml"
        if infra == root or not config.is_file():
            continue
        found.extend(
            Finding("secret", _shown(config, display), f.problem, f.fix or _AUDIT_FIX)
            for f in sops_config_findings(config)
        )
    return found


def _shown(path: Path, display: Path) -> str:
    return path.relative_to(display).as_posix() if path.is_relative_to(display) else str(path)


def declared_keys_findings(
    folder: Path, service: str, declared: list[str], display: Path
) -> list[Finding]:
    """Findings when a service declares `secret_keys` that its encrypted Secret lacks."""
    if not declared:
        return []
    path = folder / SECRETS_FILE
    where = _shown(path, display)
    set_command = f"gitops-onboard secrets set {service} KEY"
    if not path.is_file():
        return [
            Finding(
                "secret",
                where,
                f"is missing; the service declares secret_keys {', '.join(declared)}",
                f"recreate it with its keys: copier update --trust --data "
                f"'secret_keys=[{', '.join(declared)}]' {_shown(folder, display)}, then "
                f"{set_command}",
            )
        ]
    try:
        held = service_secrets.key_names(path.read_text(encoding="utf-8"), where)
    except (InputError, OSError, UnicodeDecodeError) as error:
        return [Finding("secret", where, f"cannot be read: {error}")]
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
