"""Wrap a function of Copier's `copier._template` module once per process.

The per-process caches (`clone_cache`, `config_cache`) each replace one function Copier
looks up in that module at call time. A wrapper carries a marker attribute, so turning a
cache on again, from any thread, wraps nothing twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["wrap_template_function"]

_lock = threading.Lock()


def wrap_template_function(
    name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]], marker: str
) -> None:
    """Replace `copier._template.<name>` by `wrap(it)` unless it already has `marker`.

    A no-op where Copier is not installed or has no such function.
    """
    try:
        from copier import _template
    except ImportError:
        return
    with _lock:
        current = getattr(_template, name, None)
        if current is not None and not getattr(current, marker, False):
            setattr(_template, name, wrap(current))
