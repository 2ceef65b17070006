"""The registry pull secret: one encrypted source of truth for every service namespace.

`pull-secrets/<name>/` holds a kustomization and `secret.enc.yaml`, one namespace-less
`kubernetes.io/dockerconfigjson` Secret. Each service whose `image_pull_secret` is `<name>`
lists `../../pull-secrets/<name>` in its own kustomization, whose `namespace:` places a copy
in the service's namespace. Flux decrypts each copy after the build; the `sops` CLI can too,
because the repo's rule sets `mac_only_encrypted: true` (the MAC covers only the encrypted
values, not the namespace kustomize adds).

Onboarding creates the folder with a placeholder (no registry in `auths`) using only the
public keys; `set_credentials` writes the real credentials once, at infra set-up.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from generator import rules, sops
from generator.errors import InputError
from generator.fsutil import confined, write_atomic
from generator.service_secrets import require_sops_config, secret_manifest
from generator.session import writing
from generator.transaction import Change
from generator.yamltext import new_yaml

__all__ = [
    "CONFIG_KEY",
    "FOLDER",
    "PLACEHOLDER_CONFIG",
    "SECRET_FILE",
    "SECRET_TYPE",
    "dockerconfigjson",
    "folder",
    "kustomization_text",
    "plan_for_service",
    "resource_entry",
    "set_credentials",
]

FOLDER = "pull-secrets"
SECRET_FILE = "secret.enc.yaml"
SECRET_TYPE = "kubernetes.io/dockerconfigjson"
CONFIG_KEY = ".dockerconfigjson"
PLACEHOLDER_CONFIG = '{"auths":{}}'


def folder(root: Path, name: str) -> Path:
    """`pull-secrets/<name>/` of the infra repo."""
    return root / FOLDER / name


def resource_entry(name: str) -> str:
    """The entry a service kustomization (`apps/<service>/`) lists for the pull secret."""
    return f"../../{FOLDER}/{name}"


def kustomization_text(name: str) -> str:
    """The kustomization of `pull-secrets/<name>/`."""
    return (
        f"# The registry pull secret {name}, shared by every service whose kustomization lists\n"
        "# this folder: its namespace: places a copy in the service's namespace.\n"
        "# Set the credentials with `gitops-onboard pull-secret set`.\n"
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "resources:\n"
        f"  - {SECRET_FILE}\n"
    )


def dockerconfigjson(registry: str, username: str, token: str) -> str:
    """The `.dockerconfigjson` value for one registry."""
    auth = base64.b64encode(f"{username}:{token}".encode()).decode()
    entry = {"username": username, "password": token, "auth": auth}
    return json.dumps({"auths": {registry: entry}}, separators=(",", ":"), sort_keys=True)


def _manifest(name: str, config: str) -> str:
    return secret_manifest(
        name,
        {CONFIG_KEY: config},
        secret_type=SECRET_TYPE,
        labels={"app.kubernetes.io/managed-by": "gitops-onboard"},
        placeholders=[CONFIG_KEY] if config == PLACEHOLDER_CONFIG else [],
    )


def _check_name(name: str) -> None:
    if problem := rules.dns1123_label(name):
        raise InputError("--name", problem, name)


def plan_for_service(root: Path, service_dir: Path, name: str) -> list[Change]:
    """Create `pull-secrets/<name>/` with a placeholder if it is missing (public keys only)."""
    if not name:
        return []
    _check_name(name)
    if service_dir.resolve().parent.parent != root.resolve():
        raise InputError(
            "image_pull_secret",
            f"the service kustomization lists {resource_entry(name)}, which resolves only for "
            f"a service stamped two levels below the infra root (apps/<service>), not at "
            f"{service_dir}",
        )
    target = folder(root, name)
    kustomization = confined(root, target / "kustomization.yaml")
    secret = confined(root, target / SECRET_FILE)
    changes: list[Change] = []
    if not kustomization.exists():
        changes.append(Change(kustomization, None, kustomization_text(name)))
    if not secret.exists():
        require_sops_config(root)
        rel = secret.relative_to(root.resolve()).as_posix()
        ciphertext = sops.encrypt(_manifest(name, PLACEHOLDER_CONFIG), root=root, filename=rel)
        changes.append(Change(secret, None, ciphertext))
    return changes


def is_placeholder(root: Path, name: str) -> bool:
    """True while the pull secret has no registry in it (needs the private key)."""
    return _current_config(root, name, folder(root, name) / SECRET_FILE) == PLACEHOLDER_CONFIG


def _current_config(root: Path, name: str, secret: Path) -> str | None:
    doc = new_yaml().load(sops.decrypt_file(secret, root=root))
    value = ((doc or {}).get("stringData") or {}).get(CONFIG_KEY)
    return value if isinstance(value, str) else None


def set_credentials(root: Path, name: str, registry: str, username: str, token: str) -> str:
    """Write the pull secret for `registry`; return `written` or `unchanged`.

    Needs only the public keys. When the private key is at hand and the credentials are the
    same, the file keeps its bytes; without it they cannot be compared and are re-encrypted.
    """
    _check_name(name)
    if problem := rules.registry(registry):
        raise InputError("--registry", problem, registry)
    if not username or ":" in username or any(c.isspace() for c in username):
        raise InputError("--username", "must be a user name without ':' or spaces", username)
    if not token or any(c in token for c in "\r\n"):
        raise InputError("token", "must be one non-empty line")
    with writing(root, f"gitops-onboard pull-secret set --name {name}"):
        return _write_credentials(root, name, dockerconfigjson(registry, username, token))


def _write_credentials(root: Path, name: str, config: str) -> str:
    require_sops_config(root)
    target = folder(root, name)
    kustomization = confined(root, target / "kustomization.yaml")
    secret = confined(root, target / SECRET_FILE)
    if secret.exists():
        try:
            if _current_config(root, name, secret) == config:
                return "unchanged"
        except sops.SopsError as error:
            if error.reason not in ("no-private-key", "wrong-key", "mac-mismatch"):
                raise
    rel = secret.relative_to(root.resolve()).as_posix()
    ciphertext = sops.encrypt(_manifest(name, config), root=root, filename=rel)
    if not kustomization.exists():
        write_atomic(kustomization, kustomization_text(name))
    write_atomic(secret, ciphertext)
    return "written"
