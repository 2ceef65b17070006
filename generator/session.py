"""The start of every writing command: take the repo lock, then look for interrupted work.

Inside `writing(root, command)` the command holds the repo's lock (`generator.lock`). A
journal left by a killed command (`generator.transaction`) stops it with one line naming
the command that finishes or undoes that change, unless the command is that one (`accepts`);
a journal whose change never reached the disk is dropped by any other command. Folders of
interrupted onboardings without a journal are logged as warnings, one line each.

Example::

    with writing(root, "gitops-onboard offboard web", service="web") as session:
        session.begin("offboard", "web", entries)
        ...  # write
        session.end()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import interrupted
from generator.errors import OnboardError
from generator.lock import Holder, repo_lock
from generator.transaction import (
    Journal,
    JournalEntry,
    Kind,
    clear_journal,
    read_journal,
    remove_strays,
    write_journal,
)

__all__ = ["InterruptedChange", "Session", "writing"]

_log = logging.getLogger(__name__)


class InterruptedChange(OnboardError):
    """An earlier command was interrupted; this one must not write over its half-done work."""


@dataclass
class Session:
    """A writing command's hold on a repo: its lock, and the journal it may finish or undo.

    When the lock was handed down by a parent command that keeps a journal of its own, the
    session writes none (the parent's journal covers its work).
    """

    root: Path
    holder: Holder
    journal: Journal | None = None
    nested: bool = False

    def begin(
        self,
        kind: Kind,
        service: str,
        entries: tuple[JournalEntry, ...],
        *,
        created: tuple[str, ...] = (),
        onboarding: bool = True,
        copier: dict[str, Any] | None = None,
    ) -> None:
        """Journal this command's change before its first write (see `Journal`)."""
        if self.nested:
            return
        holder = self.holder
        journal = Journal(
            kind=kind,
            service=service,
            command=holder.command,
            pid=holder.pid,
            started=holder.started,
            token=holder.token,
            entries=entries,
            created=created,
            onboarding=onboarding,
            copier=dict(copier or {}),
        )
        write_journal(self.root, journal)

    def end(self) -> None:
        """The change is complete (or entirely undone): drop the journal."""
        if not self.nested:
            clear_journal(self.root)
        self.journal = None


def _untouched(root: Path, journal: Journal) -> bool:
    """True when nothing of the journaled change reached the disk."""
    if any((root / folder).exists() for folder in journal.created):
        return False
    return all(entry.current(root) == entry.old for entry in journal.entries)


@contextmanager
def writing(
    root: Path,
    command: str,
    *,
    service: str | None = None,
    accepts: Callable[[Journal], bool] | None = None,
) -> Iterator[Session]:
    """Hold the lock of the repo at `root` and check it for interrupted work.

    `service` is the one the command works on (no warning about its own folder); `accepts`
    says which interrupted journal the command finishes or undoes (it gets it as
    `session.journal`).
    """
    with repo_lock(root, command) as holder:
        journal = read_journal(root)
        nested = False
        if journal is not None and journal.token == holder.token:
            journal, nested = None, True  # our parent's change, in progress
        elif (
            journal is not None
            and not (accepts is not None and accepts(journal))
            and _untouched(root, journal)
        ):
            # `check` names the command that finishes or undoes any journal it finds, so
            # that command gets it even when nothing reached the disk; others drop it.
            remove_strays(root, journal.entries)
            clear_journal(root)
            journal = None
        if journal is not None and not (accepts is not None and accepts(journal)):
            raise InterruptedChange(interrupted.from_journal(journal, root).line())
        skip = journal.service if journal is not None else service
        for found in interrupted.scan(root, skip=skip):
            if found.journal is None:
                _log.warning("%s", found.line())
        yield Session(root, holder, journal, nested)
