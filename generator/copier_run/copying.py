"""Copy and update through Copier's public Python API (`run_copy`, `run_update`), in process.

Copier's own failures come back as `CopierFailed`; a validator that rejects an answer comes
back as `InputError` naming the question.

Copier runs with `--trust` here, so every entry point first checks the template source
against the allow-list of the repository it writes to (`generator.sources`) and refuses an
unlisted one before Copier starts; `allow_sources` are the sources the user allowed for this
run (`--allow-source`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import yaml

from generator import sources
from generator.answers import ANSWERS_FILE, parse_recorded
from generator.copier_run.caches import caches_on
from generator.errors import InputError, OnboardError

__all__ = ["CopierFailed", "copy", "resolve_answers", "update"]

_VALIDATION = re.compile(r"Validation error for question '(?P<field>[^']+)': (?P<rule>.*)", re.S)
_CHOICE = re.compile(r"Invalid choice for '(?P<field>[^']+)': (?P<rule>.*)", re.S)


class CopierFailed(OnboardError):
    """Copier stopped with an error (a failing task, a dirty repo, a missing template)."""


def _recorded_source(destination: Path) -> str:
    """The `_src_path` Copier will update from, read as Copier reads it (YAML 1.1)."""
    path = destination / ANSWERS_FILE
    try:
        answers = parse_recorded(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CopierFailed(f"{path}: cannot be read ({type(error).__name__})") from None
    source = answers.get("_src_path") if isinstance(answers, dict) else None
    if not source:
        raise CopierFailed(f"{path}: records no _src_path, so there is nothing to update from")
    return str(source)


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
    caches_on()
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
    allow_sources: Sequence[str] = (),
    skip_tasks: bool = False,
    allowed_at: Path | None = None,
) -> None:
    """`copier copy --trust --defaults` of `template` into `destination` with `data`.

    The first copy into a repository with no allow-list records `template` as its list.
    `skip_tasks` renders only: the caller writes what the template's task would.
    `allowed_at` renders into a scratch `destination` for the repository holding
    `allowed_at`: its allow-list decides, and nothing is recorded.
    """
    from copier import run_copy

    if allowed_at is None:
        first = sources.require_allowed(
            template, destination, where=str(destination), extra=allow_sources, stamping=True
        )
    else:
        first = sources.require_allowed(
            template, allowed_at, where=str(allowed_at), extra=allow_sources
        )
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
    if first:
        sources.record_first_stamp(destination, template)


def resolve_answers(
    template: str,
    destination: Path,
    data: Mapping[str, Any],
    *,
    vcs_ref: str | None = None,
    allow_sources: Sequence[str] = (),
) -> dict[str, Any]:
    """Every answer a copy with `data` would record, defaults applied; writes nothing.

    Copier's validators run on `data` exactly as in a real copy (a pretend run).
    """
    from copier import run_copy

    sources.require_allowed(
        template, destination, where=str(destination), extra=allow_sources, stamping=True
    )
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
    allow_sources: Sequence[str] = (),
    allowed_by: Path | None = None,
) -> None:
    """`copier update --trust --defaults` of the copy stamped in `destination`.

    The source its answers file records must be allowed by the repository holding
    `allowed_by` (default: `destination`; a dry run passes the real repo for its clone).
    """
    from copier import run_update

    source = _recorded_source(destination)
    sources.require_allowed(
        source,
        allowed_by or destination,
        where=f"{destination / ANSWERS_FILE} (_src_path)",
        extra=allow_sources,
    )
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
