"""The one place that drives Copier (through its Python API, in process).

Copier's own failures come back as `CopierFailed`; a validator that rejects an answer comes
back as `InputError` naming the question.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from generator.errors import InputError, OnboardError

__all__ = ["CopierFailed", "copy", "resolve_answers", "update"]

_VALIDATION = re.compile(r"Validation error for question '(?P<field>[^']+)': (?P<rule>.*)", re.S)
_CHOICE = re.compile(r"Invalid choice for '(?P<field>[^']+)': (?P<rule>.*)", re.S)


class CopierFailed(OnboardError):
    """Copier stopped with an error (a failing task, a dirty repo, a missing template)."""


def _translate(error: Exception) -> OnboardError:
    message = str(error).strip()
    match = _VALIDATION.search(message) or _CHOICE.search(message)
    if match:
        return InputError(match["field"], match["rule"].strip().splitlines()[0])
    first = message.splitlines()[0] if message else type(error).__name__
    return CopierFailed(f"copier: {first}")


@contextmanager
def _copier_errors() -> Iterator[None]:
    """Turn whatever Copier raises into `InputError` or `CopierFailed`; ours pass through."""
    try:
        yield
    except OnboardError:
        raise
    except Exception as error:
        raise _translate(error) from error


def copy(
    template: str,
    destination: Path,
    data: Mapping[str, Any],
    *,
    vcs_ref: str | None = None,
    quiet: bool = True,
    skip_tasks: bool = False,
) -> None:
    """`copier copy --trust --defaults` of `template` into `destination` with `data`.

    `skip_tasks` renders only: the caller writes what the template's task would.
    """
    from copier import run_copy

    with _copier_errors():
        run_copy(
            template,
            destination,
            data=dict(data),
            vcs_ref=vcs_ref,
            defaults=True,
            unsafe=True,
            quiet=quiet,
            overwrite=False,
            skip_tasks=skip_tasks,
        )


def resolve_answers(
    template: str,
    destination: Path,
    data: Mapping[str, Any],
    *,
    vcs_ref: str | None = None,
) -> dict[str, Any]:
    """Every answer a copy with `data` would record, defaults applied; writes nothing.

    Copier's validators run on `data` exactly as in a real copy (a pretend run).
    """
    from copier import run_copy

    with _copier_errors():
        worker = run_copy(
            template,
            destination,
            data=dict(data),
            vcs_ref=vcs_ref,
            defaults=True,
            unsafe=True,
            quiet=True,
            pretend=True,
            skip_tasks=True,
        )
    return {k: v for k, v in worker.answers.combined.items() if not k.startswith("_")}


def update(
    destination: Path,
    *,
    vcs_ref: str | None = None,
    data: Mapping[str, Any] | None = None,
    quiet: bool = True,
    conflict: Literal["inline", "rej"] = "inline",
) -> None:
    """`copier update --trust --defaults` of the copy stamped in `destination`."""
    from copier import run_update

    with _copier_errors():
        run_update(
            destination,
            data=dict(data or {}),
            vcs_ref=vcs_ref,
            defaults=True,
            unsafe=True,
            quiet=quiet,
            overwrite=True,
            skip_answered=True,
            conflict=conflict,
        )
