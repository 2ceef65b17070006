"""The shape of a sops-encrypted Secret, read from its text alone: no key, no `sops` run.

sops writes every encrypted value as `ENC[AES256_GCM,data:...,iv:...,tag:...,type:str]`
(a 32-byte IV, a 16-byte GCM tag, base64) and a `sops` block with one armored age file per
recipient holding the 32-byte data key, the time of the last change, the MAC (an encrypted
SHA-512 in hex: 128 bytes), the version and the rule's options. A value or a block that does
not have that shape was damaged or made by hand; each problem names its key.

A well-formed file is not proof of an intact one: a flipped byte inside a value keeps its
shape, and anyone with the public key can make a real age stanza. Decrypting
(`generator.sopsverify`) is the proof.

Example::

    problems = value_problems(doc) + metadata_problems(doc["sops"], rule_regex)
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import re
from collections.abc import Mapping
from typing import Any

from generator.age import recipient_problem

__all__ = [
    "DATA_KEY_PAYLOAD",
    "ENCRYPTED_REGEX",
    "age_file_problem",
    "enc_length",
    "enc_problem",
    "metadata_problems",
    "secret_values",
    "value_problems",
]

ENCRYPTED_REGEX = "^(data|stringData)$"
# An age file holding sops' 32-byte data key: a 16-byte nonce, then one STREAM chunk of
# 32 bytes and its 16-byte tag.
DATA_KEY_PAYLOAD = 16 + 32 + 16
_MAC_PLAINTEXT = 128  # SHA-512 in hex
_ENC = re.compile(r"^ENC\[AES256_GCM,(?P<fields>[^\]]*)\]$")
_ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----"
_ARMOR_END = "-----END AGE ENCRYPTED FILE-----"
_VERSION_LINE = b"age-encryption.org/v1"


def secret_values(doc: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """`(section, key, value)` for every value under `data` and `stringData`, in file order."""
    found = []
    for section in ("data", "stringData"):
        mapping = doc.get(section)
        if isinstance(mapping, Mapping):
            found += [(section, str(key), value) for key, value in mapping.items()]
    return found


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _fields(value: str) -> dict[str, str] | None:
    match = _ENC.match(value)
    if match is None:
        return None
    return {
        name: content for name, _, content in (p.partition(":") for p in match["fields"].split(","))
    }


def enc_problem(value: object, plaintext_length: int | None = None) -> str:
    """Why `value` is not a sops-encrypted string (empty when it is one)."""
    if not isinstance(value, str):
        return "it is not a string"
    fields = _fields(value)
    if fields is None:
        return "it is not ENC[AES256_GCM,data:...,iv:...,tag:...,type:str]"
    for name in ("data", "iv", "tag", "type"):
        if name not in fields:
            return f"it has no {name}"
    if fields["type"] != "str":
        return f"its type is {fields['type']}, not str"
    data = _b64(fields["data"])
    if data is None:
        return "its data is not base64"
    for name, label, size in (("iv", "IV", 32), ("tag", "tag", 16)):
        raw = _b64(fields[name])
        if raw is None:
            return f"its {label} is not base64"
        if len(raw) != size:
            return f"its {label} is {len(raw)} bytes, not {size}"
    if plaintext_length is not None and len(data) != plaintext_length:
        return f"its data is {len(data)} bytes, not {plaintext_length}"
    return ""


def enc_length(value: object) -> int | None:
    """How many bytes a well-formed encrypted string holds: its plaintext's length."""
    if not isinstance(value, str) or enc_problem(value):
        return None
    fields = _fields(value)
    data = _b64(fields["data"]) if fields else None
    return None if data is None else len(data)


def value_problems(doc: Mapping[str, Any]) -> list[str]:
    """One line per value under data/stringData that is not a well-formed sops string."""
    return [
        f"{section}.{key} is not a well-formed sops value: {problem}"
        for section, key, value in secret_values(doc)
        if (problem := enc_problem(value))
    ]


def age_file_problem(armored: object) -> str:
    """Why `armored` is not an armored age file holding a sops data key (empty when it is).

    Checks what can be checked without the private key: the armor, the version line, each
    X25519 stanza (a 32-byte ephemeral share and a 32-byte wrapped file key), the header
    MAC and the payload's length.
    """
    if not isinstance(armored, str):
        return "it is not text"
    lines = [line.strip() for line in armored.strip().splitlines()]
    if len(lines) < 3 or lines[0] != _ARMOR_BEGIN or lines[-1] != _ARMOR_END:
        return "it is not an armored age file (BEGIN/END AGE ENCRYPTED FILE)"
    raw = _b64("".join(lines[1:-1]))
    if raw is None:
        return "its armor is not base64"
    if not raw.startswith(_VERSION_LINE + b"\n"):
        return "no age-encryption.org/v1 header"
    end = raw.find(b"\n--- ")
    if end < 0:
        return "its age header has no MAC line"
    mac_end = raw.find(b"\n", end + 1)
    if mac_end < 0 or not _unpadded(raw[end + 5 : mac_end], 32):
        return "its age header MAC is not 32 bytes"
    if problem := _stanzas_problem(raw[len(_VERSION_LINE) + 1 : end + 1]):
        return problem
    payload = len(raw) - mac_end - 1
    if payload != DATA_KEY_PAYLOAD:
        return f"its payload is {payload} bytes, not {DATA_KEY_PAYLOAD}"
    return ""


def _unpadded(text: bytes, size: int) -> bool:
    """True for unpadded base64 (as age writes it) of exactly `size` bytes."""
    if b"=" in text:
        return False
    raw = _b64((text + b"=" * (-len(text) % 4)).decode("ascii", "replace"))
    return raw is not None and len(raw) == size


def _stanzas_problem(header: bytes) -> str:
    stanzas: list[list[bytes]] = []
    for line in header.split(b"\n")[:-1]:
        if line.startswith(b"-> "):
            stanzas.append([line])
        elif stanzas:
            stanzas[-1].append(line)
        else:
            return "its age header has a line outside any stanza"
    x25519 = [s for s in stanzas if s[0].split(b" ")[1:2] == [b"X25519"]]
    if not x25519:
        return "its age header has no X25519 stanza"
    for stanza in x25519:
        args = stanza[0].split(b" ")[2:]
        if len(args) != 1 or not _unpadded(args[0], 32):
            return "an X25519 stanza's share is not 32 bytes"
        if len(stanza) != 2 or not _unpadded(stanza[1], 32):
            return "an X25519 stanza's wrapped key is not 32 bytes"
    return ""


def _timestamp(value: object) -> bool:
    if isinstance(value, _dt.datetime):
        return True
    try:
        _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def metadata_problems(
    metadata: Mapping[str, Any], encrypted_regex: str = ENCRYPTED_REGEX
) -> list[str]:
    """One line per missing or malformed field of a `sops` block (`sops.<field>` first)."""
    problems = [*_age_problems(metadata.get("age"))]
    if "lastmodified" not in metadata:
        problems.append("sops.lastmodified is missing")
    elif not _timestamp(metadata["lastmodified"]):
        problems.append("sops.lastmodified is not a timestamp")
    if "mac" not in metadata:
        problems.append("sops.mac is missing")
    elif problem := enc_problem(metadata["mac"], _MAC_PLAINTEXT):
        problems.append(f"sops.mac is not a well-formed sops value: {problem}")
    if "version" not in metadata:
        problems.append("sops.version is missing")
    elif not re.fullmatch(r"\d+\.\d+\.\d+", str(metadata["version"])):
        problems.append("sops.version is not a version such as 3.11.0")
    regex = metadata.get("encrypted_regex")
    if regex != encrypted_regex:
        shown = "missing" if regex is None else str(regex)
        problems.append(
            f"sops.encrypted_regex is {shown}, not {encrypted_regex} as the repo's .sops.yaml "
            "rule says"
        )
    return problems


def _age_problems(entries: object) -> list[str]:
    if not isinstance(entries, list) or not entries:
        return ["sops.age lists no recipient"]
    problems = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            problems.append(f"sops.age entry {number} is not a mapping")
            continue
        recipient = entry.get("recipient")
        if problem := recipient_problem(recipient):
            problems.append(f"sops.age entry {number}: its recipient {problem}")
            continue
        if problem := age_file_problem(entry.get("enc")):
            problems.append(
                f"sops.age: the stanza for recipient {recipient} is not an age file holding a "
                f"sops data key ({problem})"
            )
    return problems
