"""A template's `copier.yml` is parsed once per process, not once per Copier run.

Copier reads `copier.yml` with PyYAML's pure-Python loader each time it loads a template:
once per copy, twice per update (the old version and the new one), once more for a pretend
run. For this template's file that is tens of milliseconds each time, in every process that
runs Copier more than once (onboarding's pretend run and copy, an update of several copies,
a test suite).

`parse_configs_once()` wraps Copier's `load_template_config` so that a file whose bytes were
parsed before gets a deep copy of that result, as if parsed again. The parse depends on the
bytes alone, except for Copier's `!include` tag, which reads other files: a file that holds
`!include` is parsed each time. Errors are never cached, so a bad file is reported with its
own path each time. At most `MAX_ENTRIES` files are kept, least recently used out first.

The template's Jinja extension turns it on, as it does the compile cache, so a plain
`copier copy` or `copier update` of this template gets it from its second template load on.
"""

from __future__ import annotations

import copy
import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generator.copier_run.lru import Lru
from generator.copier_run.template_hook import wrap_template_function

__all__ = ["MAX_ENTRIES", "clear", "parse_configs_once"]

MAX_ENTRIES = 64
_INCLUDE = b"!include"

_MARKER = "_gitops_parses_once"
# (sha256 of the file's bytes, quiet) -> the parsed configuration, never handed out itself.
_parsed: Lru[tuple[bytes, bool], dict[str, Any]] = Lru()

Loader = Callable[..., dict[str, Any]]


def _cached(load: Loader) -> Loader:
    @functools.wraps(load)
    def load_once(conf_path: Path, quiet: bool = False) -> dict[str, Any]:
        try:
            data = Path(conf_path).read_bytes()
        except OSError:
            return load(conf_path, quiet)  # Copier reports the file as it does
        if _INCLUDE in data:
            return load(conf_path, quiet)
        key = (hashlib.sha256(data).digest(), bool(quiet))
        hit = _parsed.get(key)
        if hit is not None:
            return copy.deepcopy(hit)
        result = load(conf_path, quiet)
        # The bytes just read: a file changed since then is cached under its old bytes'
        # digest only if Copier read those same bytes, so compare once more.
        if Path(conf_path).read_bytes() == data:
            _parsed.put(key, copy.deepcopy(result), MAX_ENTRIES)
        return result

    return load_once


def parse_configs_once() -> None:
    """Route Copier's `copier.yml` loading through the cache (once; a no-op after)."""
    wrap_template_function("load_template_config", _cached, _MARKER)


def clear() -> None:
    """Forget every parsed file."""
    _parsed.clear()
