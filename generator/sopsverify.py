"""Decrypt encrypted files in memory with the age key at hand, and name what does not decrypt.

A file is decrypted only when a private key that sops would load (`SOPS_AGE_KEY`,
`SOPS_AGE_KEY_FILE`, its default `keys.txt`) belongs to one of the file's recipients, or when
the key comes from a source that cannot be read here (`SOPS_AGE_KEY_CMD`, an SSH key). The
plaintext stays in memory, on sops' stdout; it is handed back for the placeholder rules and
never written or shown.

When the file does not decrypt, each value is decrypted alone (sops binds a value to its key,
so a changed or swapped value fails by itself) and the MAC is tried alone, so every finding
names the key at fault: `stringData.API_KEY`, `sops.mac`, or the age stanza of a recipient.

Example::

    at_hand = keys_at_hand()
    result = verify(text, docs, at_hand, "apps/web/secrets.enc.yaml")
    for problem in result.problems:
        print(problem)
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from generator import sops
from generator.age import public_key_of, pyrage
from generator.sopsmeta import secret_values
from generator.yamltext import new_yaml

__all__ = ["KeysAtHand", "Verified", "keys_at_hand", "recipients", "verify"]

_OPAQUE_SOURCES = (
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
)
_VALUE_CHANGED = (
    "does not decrypt with the key at hand: its ciphertext, IV or tag changed after "
    "encryption (a bad merge or a hand edit)"
)


@dataclass(frozen=True)
class KeysAtHand:
    """The public keys of the age identities sops would load, and whether others may exist."""

    public: frozenset[str]
    opaque: bool = False

    def __bool__(self) -> bool:
        return bool(self.public) or self.opaque


def keys_at_hand() -> KeysAtHand:
    """What sops would decrypt with: `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE` and `keys.txt`."""
    texts = [os.environ.get("SOPS_AGE_KEY", "")]
    for name in (os.environ.get("SOPS_AGE_KEY_FILE"), str(sops.default_key_file())):
        if name:
            try:
                texts.append(Path(name).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue
    public: set[str] = set()
    for text in texts:
        try:
            public.update(public_key_of(text))
        except (pyrage().IdentityError, ValueError):  # a damaged key: sops cannot use it either
            continue
    opaque = any(os.environ.get(name) for name in _OPAQUE_SOURCES)
    return KeysAtHand(frozenset(public), opaque)


def recipients(doc: Mapping[str, Any]) -> list[str]:
    """The age recipients a document's `sops` block names."""
    metadata = doc.get("sops")
    entries = metadata.get("age") if isinstance(metadata, Mapping) else None
    if not isinstance(entries, list):
        return []
    return [str(e["recipient"]) for e in entries if isinstance(e, Mapping) and "recipient" in e]


@dataclass(frozen=True)
class Verified:
    """The outcome of decrypting one file.

    `attempted` is False when no key at hand could open it. `plaintext` holds the decrypted
    documents (in memory only) when decryption succeeded; `problems` names each key at fault.
    """

    attempted: bool = False
    problems: tuple[str, ...] = ()
    plaintext: tuple[Any, ...] | None = None


def verify(text: str, docs: Sequence[Any], at_hand: KeysAtHand, where: str) -> Verified:
    """Decrypt `text` (whose parsed documents are `docs`) with the keys at hand."""
    encrypted = [d for d in docs if isinstance(d, Mapping) and isinstance(d.get("sops"), Mapping)]
    mine = sorted({r for d in encrypted for r in recipients(d)} & at_hand.public)
    if not encrypted or not (mine or at_hand.opaque):
        return Verified()
    try:
        plain = sops.decrypt_text(text, subject=where)
    except sops.SopsError as error:
        if "failed to load age identities" in error.stderr:
            return Verified()  # a key source sops cannot read: nothing can be told
        if error.reason in ("no-private-key", "wrong-key"):
            return Verified(True, tuple(_stanza_problems(mine)))
        return Verified(True, tuple(_localize(encrypted, error, where)))
    try:
        loaded = tuple(new_yaml().load_all(plain))
    except YAMLError:
        return Verified(True, (f"decrypts to text that is not YAML ({where})",))
    return Verified(True, (), loaded)


def _stanza_problems(mine: list[str]) -> list[str]:
    # sops found no data key although a key at hand is one of the recipients: that
    # recipient's stanza no longer opens with it.
    return [
        f"sops.age: the stanza for recipient {recipient} does not open with the key at hand, "
        "which is that recipient's: the stanza changed after encryption"
        for recipient in mine
    ]


def _json(value: object) -> str:
    if isinstance(value, _dt.datetime):
        return value.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _attempt(doc: Mapping[str, Any], where: str, *, ignore_mac: bool) -> sops.SopsError | None:
    try:
        sops.decrypt_text(
            json.dumps(doc, default=_json), subject=where, input_type="json", ignore_mac=ignore_mac
        )
    except sops.SopsError as error:
        return error
    return None


def _localize(docs: list[Mapping[str, Any]], error: sops.SopsError, where: str) -> list[str]:
    """Which value, or the MAC, made the whole file fail."""
    problems: list[str] = []
    for doc in docs:
        bare = {k: v for k, v in doc.items() if k not in ("data", "stringData")}
        for section, key, value in secret_values(doc):
            alone = {**bare, section: {key: value}}
            failed = _attempt(alone, where, ignore_mac=True)
            if failed is not None and failed.reason == "value-damaged":
                problems.append(f"{section}.{key} {_VALUE_CHANGED}")
        mac = _attempt(bare, where, ignore_mac=False)
        if mac is not None and mac.reason == "mac-damaged":
            problems.append(
                "sops.mac does not decrypt with the key at hand: the MAC changed after encryption"
            )
    if problems:
        return problems
    if error.reason == "mac-mismatch":
        return [
            "sops.mac does not match the values: a value was replaced (e.g. by an older one), "
            "removed or reordered after encryption"
        ]
    return [f"does not decrypt with the key at hand: {error}"]
