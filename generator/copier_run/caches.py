"""Turn on every per-process cache of Copier's work at once.

Each cache wraps one function or method of Copier, once per process (see each module):
`config_cache` parses a `copier.yml` once, `clone_cache` clones a template version once,
`file_mode_cache` reads the destination's `core.fileMode` once per run. The compile cache
is per Jinja environment, so the template's extension turns it on itself.
"""

from __future__ import annotations

from generator.copier_run.clone_cache import clone_once
from generator.copier_run.config_cache import parse_configs_once
from generator.copier_run.file_mode_cache import file_mode_once

__all__ = ["caches_on"]


def caches_on() -> None:
    """Turn every cache on (a no-op for those already on)."""
    parse_configs_once()
    clone_once()
    file_mode_once()
