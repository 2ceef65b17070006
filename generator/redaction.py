"""Keep age private keys out of every message: tell them apart and blank them out.

A private key pasted into an answer, a flag or a file must never come back in an error, a
report or JSON. `redact` replaces each one; `holds_private_key` finds one anywhere in an
answer. The key prefix is assembled from its parts, so the source holds no key-shaped text
for secret scanners to flag (a test checks it against a key pyrage makes), and redaction needs
nothing from the `infra` extra.

Example (`key` being an age private key)::

    redact(f"got '[{key}'")   # "got '[[redacted age private key]'"
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO, cast

__all__ = [
    "REDACTED",
    "RedactingWriter",
    "holds_private_key",
    "identity_prefix",
    "redact",
    "redacted_output",
    "unredacted_stdout",
]

REDACTED = "[redacted age private key]"
# Upper-case bech32 (no 1, b, i, o), as age writes a key: a long run is the rest of a key whose
# prefix was cut off, e.g. by a parser that shortens a long line around the error.
_KEY_BODY_RUN = r"[02-9AC-HJ-NP-Z]{40,}"


def identity_prefix() -> str:
    """How an age private key starts: its bech32 human-readable part and the separator `1`."""
    return "-".join(("AGE", "SECRET", "KEY", "1"))


@functools.cache
def _key() -> re.Pattern[str]:
    return re.compile(rf"(?i:{re.escape(identity_prefix()[:-1])}[0-9a-z]*)")


@functools.cache
def _shown() -> re.Pattern[str]:
    # The body run is upper case only: a public key (age1 + lower-case bech32) stays readable.
    return re.compile(rf"{_key().pattern}|{_KEY_BODY_RUN}")


def redact(text: str) -> str:
    """`text` with every age private key, in any case, replaced by `REDACTED`."""
    return _shown().sub(REDACTED, text)


def holds_private_key(value: object) -> bool:
    """True when `value`, or any string inside it (keys included), holds an age private key."""
    if isinstance(value, str):
        return _key().search(value) is not None
    if isinstance(value, Mapping):
        return any(holds_private_key(k) or holds_private_key(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(holds_private_key(item) for item in value)
    return False


class RedactingWriter:
    """A text stream that passes everything written to `stream` through `redact`."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        """Write `text` with every private key replaced; report the length given."""
        self.stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def redacted_output() -> Iterator[None]:
    """Pass everything printed on `sys.stdout` and `sys.stderr` through `redact` meanwhile."""
    saved = sys.stdout, sys.stderr
    sys.stdout = cast(TextIO, RedactingWriter(sys.stdout))
    sys.stderr = cast(TextIO, RedactingWriter(sys.stderr))
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def unredacted_stdout() -> None:
    """Let a command whose product is a private key (keygen) print it on stdout."""
    if isinstance(sys.stdout, RedactingWriter):
        sys.stdout = sys.stdout.stream
