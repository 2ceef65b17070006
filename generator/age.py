"""age keys: make a key pair, check a public key, write the private key where sops finds it.

Keys are made in process with pyrage (the age library, from the `infra` extra); the private
key is written once, with mode 0600, to a file that must not exist yet, and never goes into
the infra repo.

Example::

    pair = generate()
    write_key_file(default_key_file(), pair.key_file_text)
    print(pair.public)                      # age1...
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from generator.errors import InputError
from generator.extras import infra_module
from generator.redaction import identity_prefix as _identity_prefix
from generator.sops import default_key_file
from generator.yamltext import yaml_str

__all__ = [
    "FLUX_KEY_ENTRY",
    "FLUX_SECRET_NAME",
    "FLUX_SECRET_NAMESPACE",
    "KeyPair",
    "default_key_file",
    "flux_secret_manifest",
    "generate",
    "looks_private",
    "public_key_of",
    "pyrage",
    "recipient_problem",
    "refuse_existing",
    "write_key_file",
]


FLUX_SECRET_NAME = "sops-age"
FLUX_SECRET_NAMESPACE = "flux-system"
# Flux's kustomize-controller reads only entries whose name ends in `.agekey`.
FLUX_KEY_ENTRY = "age.agekey"


def pyrage() -> ModuleType:
    """The age library (`pyrage`, from the `infra` extra)."""
    return infra_module("pyrage", "working with age keys")


@dataclass(frozen=True)
class KeyPair:
    """A fresh age key pair; `key_file_text` is what `age-keygen` would write."""

    public: str
    key_file_text: str

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public!r}, key_file_text=<hidden>)"


def generate(now: _dt.datetime | None = None) -> KeyPair:
    """Make an X25519 age key pair."""
    identity = pyrage().x25519.Identity.generate()
    public = str(identity.to_public())
    created = (now or _dt.datetime.now(_dt.UTC)).replace(microsecond=0).isoformat()
    text = f"# created: {created}\n# public key: {public}\n{identity}\n"
    return KeyPair(public, text)


def looks_private(text: str) -> bool:
    """True for an age private key (also a mangled or lowercased one)."""
    return text.strip().upper().startswith(_identity_prefix()[:-1])


def public_key_of(key_file_text: str) -> list[str]:
    """The public keys of every age identity in a key file's text (comments ignored)."""
    return [
        str(pyrage().x25519.Identity.from_str(line.strip()).to_public())
        for line in key_file_text.splitlines()
        if line.strip().startswith(_identity_prefix())
    ]


def recipient_problem(value: object) -> str:
    """Empty when `value` is an age X25519 public key as sops expects it, else the rule."""
    if not isinstance(value, str) or not value:
        return "must be an age public key (age1..., made by `gitops-onboard keygen`)"
    if looks_private(value):
        return "is an age PRIVATE key; give its public key (age1...), never the private one"
    age = pyrage()
    try:
        canonical = str(age.x25519.Recipient.from_str(value))
    except (age.RecipientError, ValueError):
        return "must be an age public key: 'age1' followed by 58 bech32 characters"
    if canonical != value:
        return f"must be written in lowercase as {canonical}"
    return ""


def refuse_existing(path: Path, field: str = "--out") -> None:
    """Raise `InputError` when `path` exists: key material is never overwritten."""
    if path.exists() or path.is_symlink():
        raise InputError(field, f"{path} exists; refusing to overwrite it (choose another {field})")


def write_key_file(path: Path, text: str, field: str = "--out") -> None:
    """Create `path` with mode 0600 holding `text`; refuse to overwrite an existing file."""
    refuse_existing(path, field)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        refuse_existing(path, field)
        raise
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    os.chmod(path, 0o600)


def flux_secret_manifest(pair: KeyPair) -> str:
    """The `sops-age` Secret in `flux-system` that Flux decrypts with, as YAML."""
    return (
        f"# The age key Flux's kustomize-controller decrypts with; public key {pair.public}.\n"
        "# Apply it (kubectl apply -f -), then keep the key file in a password manager.\n"
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata:\n"
        f"  name: {yaml_str(FLUX_SECRET_NAME)}\n"
        f"  namespace: {yaml_str(FLUX_SECRET_NAMESPACE)}\n"
        'type: "Opaque"\n'
        "stringData:\n"
        f"  {FLUX_KEY_ENTRY}: {yaml_str(pair.key_file_text)}\n"
    )
