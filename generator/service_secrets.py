"""A service's encrypted Secret (`apps/<service>/secrets.enc.yaml`): create, set, list, unset.

The file is one plain `kind: Secret` document whose `stringData` values sops encrypts for the
recipients of the infra repo's `.sops.yaml`. Creating it needs only those public keys;
reading or changing a value needs the age private key. Plaintext exists only in memory and
on sops' stdin. Values are never re-encrypted when they did not change, so re-running any
command leaves the file byte-identical.

Keys are written in sorted order, as kustomize emits them: sops' MAC covers the encrypted
values in order, so a file whose keys kustomize reorders fails `sops decrypt` of the build.

The annotation `gitops-onboard/placeholders` lists, in plaintext, the keys that still hold a
placeholder (empty when none does), so `check` tells them without the private key; `set` and
`unset` keep it current. Only key names are in it, never values, and it sits outside the
values sops encrypts and MACs (`encrypted_regex: ^(data|stringData)$`).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from generator import rules, sops
from generator.errors import InputError
from generator.fsutil import confined, write_atomic
from generator.session import writing
from generator.spec import ServiceSpec
from generator.transaction import Change
from generator.yamltext import NO_WRAP, new_yaml, yaml_str

__all__ = [
    "PLACEHOLDER_ANNOTATION",
    "SECRETS_FILE",
    "SUBSTITUTE_ANNOTATION",
    "is_placeholder",
    "key_names",
    "marked_keys",
    "pending_keys",
    "placeholder",
    "plan_service_secrets",
    "secret_manifest",
    "secret_name",
    "secrets_path",
    "set_secret",
    "unset_secret",
]

SECRETS_FILE = "secrets.enc.yaml"
# Flux substitutes ${VAR} in applied objects when postBuild substitution is on; this opts out.
SUBSTITUTE_ANNOTATION = ("kustomize.toolkit.fluxcd.io/substitute", "disabled")
_PLACEHOLDER_PREFIX = "CHANGE-ME: no value yet; run `gitops-onboard secrets set"
# Keys still holding a placeholder, comma-separated; readable without the private key.
PLACEHOLDER_ANNOTATION = "gitops-onboard/placeholders"


def placeholder(service: str, key: str) -> str:
    """The obvious stand-in for a value nobody has given yet."""
    return f"{_PLACEHOLDER_PREFIX} {service} {key}`"


def is_placeholder(value: str) -> bool:
    """True for a value written by `placeholder`."""
    return value.startswith(_PLACEHOLDER_PREFIX)


def secret_name(service: str) -> str:
    """The Secret the deployment's `envFrom` reads."""
    return f"{service}-secrets"


def secret_manifest(
    name: str,
    values: Mapping[str, str],
    *,
    namespace: str | None = None,
    secret_type: str = "Opaque",
    labels: Mapping[str, str] | None = None,
    placeholders: Sequence[str] | None = None,
) -> str:
    """A Secret as plaintext YAML (for sops' stdin only); every string double-quoted.

    `placeholders` (when given) are the keys recorded in `PLACEHOLDER_ANNOTATION`.
    """
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", f"  name: {yaml_str(name)}"]
    if namespace:
        lines.append(f"  namespace: {yaml_str(namespace)}")
    if labels:
        lines.append("  labels:")
        lines += [f"    {key}: {yaml_str(value)}" for key, value in labels.items()]
    lines += [
        "  annotations:",
        f"    {SUBSTITUTE_ANNOTATION[0]}: {yaml_str(SUBSTITUTE_ANNOTATION[1])}",
    ]
    if placeholders is not None:
        lines.append(f"    {PLACEHOLDER_ANNOTATION}: {yaml_str(_marker(placeholders))}")
    lines.append(f"type: {yaml_str(secret_type)}")
    lines.append("stringData:" if values else "stringData: {}")
    lines += [f"  {yaml_str(key)}: {yaml_str(values[key])}" for key in sorted(values)]
    return "\n".join(lines) + "\n"


def _marker(keys: Sequence[str]) -> str:
    return ",".join(sorted(set(keys)))


def marked_keys(doc: Mapping[str, Any]) -> list[str] | None:
    """The keys `PLACEHOLDER_ANNOTATION` lists; None for a file written without it."""
    metadata = doc.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    if not isinstance(annotations, Mapping) or PLACEHOLDER_ANNOTATION not in annotations:
        return None
    value = annotations[PLACEHOLDER_ANNOTATION]
    return [k.strip() for k in str(value or "").split(",") if k.strip()]


def _relative(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


def require_sops_config(root: Path) -> None:
    """Raise `InputError` unless the infra repo has its `.sops.yaml`."""
    if not (root / ".sops.yaml").is_file():
        raise InputError(
            ".sops.yaml",
            f"is missing in {root}; stamp the infra repo with its age_recipients "
            "(copier copy/update --data kind=infra) before adding secrets",
        )


def check_values(spec: ServiceSpec, values: Mapping[str, object], where: str) -> dict[str, str]:
    """The given values keyed by secret key; unknown keys and non-strings are errors.

    Empty values count as not given. Error messages name keys, never values.
    """
    checked: dict[str, str] = {}
    for key, value in values.items():
        if key not in spec.secret_keys:
            declared = ", ".join(spec.secret_keys) or "none"
            raise InputError(where, f"{key} is not one of the service's secret_keys ({declared})")
        if not isinstance(value, str):
            raise InputError(where, f"{key}: values must be strings; quote it")
        if value:
            checked[key] = value
    return checked


def plan_service_secrets(
    root: Path,
    service_dir: Path,
    spec: ServiceSpec,
    values: Mapping[str, str] | None = None,
) -> tuple[list[Change], list[str]]:
    """Encrypt `secrets.enc.yaml` in memory unless it exists; return it and the placeholders.

    Needs only the public keys in `.sops.yaml`. A key without a value gets `placeholder`.
    """
    path = confined(root, service_dir / SECRETS_FILE)
    if not spec.secret_keys or path.exists():
        return [], []
    require_sops_config(root)
    given = check_values(spec, values or {}, "secret values")
    missing = [key for key in spec.secret_keys if key not in given]
    content = {key: given.get(key) or placeholder(spec.service, key) for key in spec.secret_keys}
    plaintext = secret_manifest(
        secret_name(spec.service),
        content,
        namespace=spec.namespace,
        labels={
            "app.kubernetes.io/name": spec.service,
            "app.kubernetes.io/managed-by": "gitops-onboard",
        },
        placeholders=missing,
    )
    ciphertext = sops.encrypt(plaintext, root=root, filename=_relative(path, root))
    return [Change(path, None, ciphertext)], missing


def secrets_path(root: Path, service: str) -> Path:
    """`apps/<service>/secrets.enc.yaml`, which must exist."""
    if problem := rules.dns1035_label(service):
        raise InputError("service", problem, service)
    service_dir = confined(root, root / "apps" / service)
    if not service_dir.is_dir():
        raise InputError("service", f"apps/{service} does not exist in {root}", service)
    path = confined(root, service_dir / SECRETS_FILE)
    if not path.is_file():
        raise InputError(
            "service",
            f"apps/{service} has no {SECRETS_FILE}; declare its secret keys first: "
            f"copier update --trust --data 'secret_keys=[KEY]' apps/{service}",
            service,
        )
    return path


def _load_secret(text: str, where: str) -> dict[str, Any]:
    try:
        doc = new_yaml().load(text)
    except YAMLError as error:
        raise InputError(where, "must be valid YAML") from error
    if not isinstance(doc, dict) or doc.get("kind") != "Secret":
        raise InputError(where, "must hold one kind: Secret document")
    return doc


def key_names(text: str, where: str = SECRETS_FILE) -> dict[str, str]:
    """Each key of an encrypted Secret and its section (`stringData` or `data`); no key needed."""
    doc = _load_secret(text, where)
    if not isinstance(doc.get("sops"), dict):
        raise InputError(where, "is not encrypted with sops (no sops metadata)")
    found: dict[str, str] = {}
    for section in ("data", "stringData"):
        mapping = doc.get(section) or {}
        if isinstance(mapping, dict):
            found.update({str(key): section for key in mapping})
    return dict(sorted(found.items()))


def _check_key(key: str) -> None:
    if problem := rules.env_name(key):
        raise InputError("KEY", problem, key)


def set_secret(root: Path, service: str, key: str, value: str) -> str:
    """Set one value; return `unchanged`, `updated` or `added`.

    An existing key goes through `sops set --idempotent --value-stdin`; a new key is
    inserted in sorted order, which means decrypting and re-encrypting the whole file.
    Holds the infra repo's lock from reading the file to writing it.
    """
    _check_key(key)
    if not value:
        raise InputError("value", "must not be empty")
    with writing(root, f"gitops-onboard secrets set {service} {key}"):
        path = secrets_path(root, service)
        names = key_names(path.read_text(encoding="utf-8"), _relative(path, root))
        if key in names:
            section = names[key]
            stored = base64.b64encode(value.encode()).decode() if section == "data" else value
            changed = sops.set_value(path, [section, key], stored, root=root)
            _unmark(root, path, key)
            return "updated" if changed else "unchanged"
        _insert_sorted(root, path, key, value)
        return "added"


def _unmark(root: Path, path: Path, key: str) -> None:
    """Drop `key` from the placeholder annotation; record the annotation if it is missing."""
    doc = _load_secret(path.read_text(encoding="utf-8"), _relative(path, root))
    marked = marked_keys(doc)
    metadata = doc.get("metadata")
    if marked is None:
        if not isinstance(metadata, dict) or not isinstance(metadata.get("annotations"), dict):
            return  # not a file gitops-onboard wrote: nothing to record it in
        plain = _load_secret(sops.decrypt_file(path, root=root), _relative(path, root))
        remaining = _placeholders_in(plain)
    elif key in marked:
        remaining = [k for k in marked if k != key]
    else:
        return
    index = ["metadata", "annotations", PLACEHOLDER_ANNOTATION]
    sops.set_value(path, index, _marker(remaining), root=root)


def _placeholders_in(plain: Mapping[str, Any]) -> list[str]:
    values = plain.get("stringData") or {}
    return sorted(str(k) for k, v in values.items() if isinstance(v, str) and is_placeholder(v))


def _insert_sorted(root: Path, path: Path, key: str, value: str) -> None:
    yaml = new_yaml("rt", width=NO_WRAP)
    doc = yaml.load(sops.decrypt_file(path, root=root))
    section = doc.get("stringData")
    if not isinstance(section, CommentedMap):
        section = CommentedMap()
        doc["stringData"] = section
    section[key] = value
    ordered = sorted(section.items())
    section.clear()
    section.update(ordered)
    annotations = (doc.get("metadata") or {}).get("annotations")
    if isinstance(annotations, CommentedMap):
        annotations[PLACEHOLDER_ANNOTATION] = _marker(_placeholders_in(doc))
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    ciphertext = sops.encrypt(buffer.getvalue(), root=root, filename=_relative(path, root))
    write_atomic(path, ciphertext)


def unset_secret(root: Path, service: str, key: str) -> bool:
    """Remove one key with `sops unset`; return whether it was there."""
    _check_key(key)
    with writing(root, f"gitops-onboard secrets unset {service} {key}"):
        path = secrets_path(root, service)
        names = key_names(path.read_text(encoding="utf-8"), _relative(path, root))
        if key not in names:
            return False
        removed = sops.unset_value(path, [names[key], key], root=root)
        marked = marked_keys(_load_secret(path.read_text(encoding="utf-8"), _relative(path, root)))
        if marked is not None and key in marked:
            index = ["metadata", "annotations", PLACEHOLDER_ANNOTATION]
            sops.set_value(path, index, _marker([k for k in marked if k != key]), root=root)
        return removed


def pending_keys(root: Path, service: str) -> list[str]:
    """Keys still holding a placeholder (decrypts, so it needs the private key)."""
    path = secrets_path(root, service)
    doc = _load_secret(sops.decrypt_file(path, root=root), _relative(path, root))
    return _placeholders_in(doc)


def declared_but_missing(root: Path, service_dir: Path, keys: Sequence[str]) -> list[str]:
    """Declared secret keys that an existing `secrets.enc.yaml` does not hold."""
    path = service_dir / SECRETS_FILE
    if not keys or not path.is_file():
        return []
    names = key_names(path.read_text(encoding="utf-8"), _relative(path, root))
    return [key for key in keys if key not in names]
