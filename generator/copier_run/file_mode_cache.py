"""Copier reads the destination's `core.fileMode` once per run, not once per file.

After writing each file, Copier (9.19 and later) runs `git config --type=bool --get
core.fileMode` in the destination, to learn whether it must copy the file's executable bit
into git's index by hand (only when the setting is `false`). That is one git process per
rendered file, in every copy and update, for a setting that no render changes.

`file_mode_once()` wraps `Worker._sync_git_index_executable_bit` so that the setting is read
at the first file of a run and kept on that run's `Worker`; a run whose setting is `false`
goes on to Copier's own method for every file, which reads it again and does the work. The
template's Jinja extension turns it on with the other caches, so a plain `copier copy` or
`copier update` of this template gets it too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generator.copier_run.template_hook import wrap_copier_attribute

__all__ = ["file_mode_once"]

_MARKER = "_gitops_reads_file_mode_once"
# Where a run's setting is kept: the `Worker` instance's own dict, as its cached properties.
_SETTING = "_gitops_onboard_core_file_mode"
_UNREAD = object()

# (worker, dst_relpath, src_mode) in Copier 9.19; passed on as given, whatever a later 9.x adds.
Sync = Callable[..., None]


def _setting(destination: Path) -> str | None:
    """`core.fileMode` as Copier reads it in `destination`; None where git has none."""
    from copier._vcs import get_git
    from plumbum import ProcessExecutionError

    try:
        return str(
            get_git(context_dir=destination)("config", "--type=bool", "--get", "core.fileMode")
        ).strip()
    except ProcessExecutionError:
        return None


def _once_per_run(sync: Sync) -> Sync:
    @functools.wraps(sync)
    def sync_when_git_ignores_modes(worker: Any, *args: Any, **kwargs: Any) -> None:
        setting = worker.__dict__.get(_SETTING, _UNREAD)
        if setting is _UNREAD:
            setting = worker.__dict__[_SETTING] = _setting(worker.subproject.local_abspath)
        if setting == "false":  # the only setting Copier acts on
            sync(worker, *args, **kwargs)

    return sync_when_git_ignores_modes


def file_mode_once() -> None:
    """Have Copier read `core.fileMode` once per run.

    Wraps once (a no-op after), and nothing where Copier has no such step.
    """
    wrap_copier_attribute(
        "copier._main", "Worker._sync_git_index_executable_bit", _once_per_run, _MARKER
    )
