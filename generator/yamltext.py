"""YAML text: the one factory of ruamel `YAML` instances and the one double-quoted emitter.

Every module that parses or writes YAML with ruamel gets its `YAML` from `new_yaml`, so the
settings a kind of document needs (pure-Python safe loading, round trip keeping quotes, no
line folding) are chosen in one place. `yaml_str` (also the template's `yaml_str` filter)
renders any value as one double-quoted scalar with a real emitter, so values such as `yes`,
`0755`, `1e3`, `~` or multi-line text stay strings for Kubernetes' YAML 1.1 reader.

Example::

    new_yaml("rt", preserve_quotes=True).load(text)
    yaml_str("yes")  # '"yes"'
"""

from __future__ import annotations

import functools
import io
import threading
from typing import Literal

from ruamel.yaml import YAML

__all__ = ["NO_WRAP", "double_quoted", "new_yaml", "yaml_str"]

NO_WRAP = 1 << 30  # a line width no scalar reaches: never fold a value


def new_yaml(
    kind: Literal["safe", "rt"] = "safe",
    *,
    preserve_quotes: bool = False,
    width: int | None = None,
) -> YAML:
    """A ruamel `YAML`: `safe` (pure Python, plain data) or `rt` (round trip, comments kept)."""
    yaml = YAML(typ="safe", pure=True) if kind == "safe" else YAML(typ="rt")
    if preserve_quotes:
        yaml.preserve_quotes = True
    if width is not None:
        yaml.width = width
    return yaml


def yaml_str(value: object) -> str:
    """Return `value` as one double-quoted YAML scalar (no trailing newline)."""
    return double_quoted("" if value is None else str(value))


class _QuotingEmitter(threading.local):
    """One double-quoting `YAML` per thread: building one costs more than a dump."""

    def __init__(self) -> None:
        self.yaml = new_yaml("safe", width=NO_WRAP)
        self.yaml.default_style = '"'  # type: ignore[assignment]
        self.yaml.allow_unicode = True


_quoting = _QuotingEmitter()


@functools.lru_cache(maxsize=8192)
def double_quoted(text: str) -> str:
    """`text` as one double-quoted YAML scalar, non-ASCII kept as it is."""
    # Cached: `check` renders every stamped copy, and most values repeat within a copy.
    buffer = io.StringIO()
    _quoting.yaml.dump(text, buffer)
    return buffer.getvalue().rstrip("\n").removesuffix("\n...")
