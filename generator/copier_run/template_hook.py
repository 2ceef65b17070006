"""Wrap a function or method of Copier once per process.

The per-process caches (`clone_cache`, `config_cache`, `file_mode_cache`) each replace one
function or method Copier looks up at call time: a function of `copier._template`, a method
of `copier._main.Worker`. The wrapper is given a marker attribute here, so turning a cache on
again, from any thread, wraps nothing twice.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["wrap_copier_attribute", "wrap_template_function"]

_lock = threading.Lock()


def wrap_copier_attribute(
    module: str,
    path: str,
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]],
    marker: str,
) -> None:
    """Replace `<module>.<path>` by `wrap(it)`, marked with `marker`, unless it has it.

    E.g. module `copier._main`, path `Worker.run_copy`.
    A no-op where Copier is not installed or has no such attribute.
    """
    try:
        owner: Any = importlib.import_module(module)
    except ImportError:
        return
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent, None)
        if owner is None:
            return
    with _lock:
        current = getattr(owner, name, None)
        if current is not None and not getattr(current, marker, False):
            wrapped = wrap(current)
            setattr(wrapped, marker, True)
            setattr(owner, name, wrapped)


def wrap_template_function(
    name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]], marker: str
) -> None:
    """Replace `copier._template.<name>` by `wrap(it)`, marked with `marker`, unless it has it."""
    wrap_copier_attribute("copier._template", name, wrap, marker)
