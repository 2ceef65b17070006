"""Write an adoption all at once, safe against `kill -9`, without copying a hand-written file.

The hand-written folder may hold a plaintext Secret (in any of its files), so none of its
texts is ever copied: not into the journal, not into a backup. The new folder is written
beside it instead, then the two are swapped by renaming, then the old one is deleted:

1. the journal (`generator.transaction`, kind `adopt`) names the service and every new file
   with its text (template files, answers, the Component: ciphertext for Secrets, never a
   hand-written file's text), and the cluster files it edits, with their old text (a
   service on several clusters is listed by its overlays);
2. `apps/.<service>.adopt-new/` receives every new file;
3. `apps/<service>` is renamed to `apps/.<service>.adopt-old`, and the new folder to
   `apps/<service>` (the commit point); then the cluster files are written;
4. the old folder is renamed to `apps/.<service>.adopt-done` and deleted; the journal goes.

Killed anywhere, the folders on disk say how far it got. `finish` completes the steps from
there; `roll_back` puts the hand-written folder back (renamed back, never rewritten) and
deletes what was written, possible until step 4 starts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from generator.transaction import Change, Journal, JournalEntry, WriteFailed, apply

__all__ = [
    "WriteFailed",
    "can_roll_back",
    "entries",
    "finish",
    "roll_back",
    "side_folders",
    "write",
]


def side_folders(service: str) -> tuple[str, str, str]:
    """The new, old and doomed folders of an adoption in progress, relative to the root."""
    base = f"apps/.{service}.adopt"
    return f"{base}-new", f"{base}-old", f"{base}-done"


def entries(
    root: Path, service: str, files: Mapping[str, str], outside: Iterable[Change] = ()
) -> tuple[JournalEntry, ...]:
    """Journal entries: the new folder's files (no old text), then `outside`'s.

    `outside` holds the cluster files the adoption edits, with their old text.
    """
    new = root / side_folders(service)[0]
    return tuple(
        JournalEntry.of(root, Change(new / rel, None, text)) for rel, text in sorted(files.items())
    ) + tuple(JournalEntry.of(root, change) for change in outside)


def _in_new_folder(root: Path, journal: Journal, entry: JournalEntry) -> bool:
    return (root / entry.path).is_relative_to(_paths(root, journal.service)[1])


def _write_outside(root: Path, journal: Journal) -> None:
    """Write the cluster files (again: each write puts the whole new text)."""
    apply(
        Change(root / entry.path, entry.current(root), entry.new)
        for entry in journal.entries
        if not _in_new_folder(root, journal, entry) and entry.current(root) != entry.new
    )


def _restore_outside(root: Path, journal: Journal) -> None:
    for entry in journal.entries:
        if _in_new_folder(root, journal, entry) or entry.current(root) == entry.old:
            continue
        if entry.old is None:
            (root / entry.path).unlink(missing_ok=True)
        else:
            apply([Change(root / entry.path, entry.current(root), entry.old)])


def _paths(root: Path, service: str) -> tuple[Path, Path, Path, Path]:
    new, old, done = side_folders(service)
    return root / "apps" / service, root / new, root / old, root / done


def _write_new(root: Path, journal: Journal) -> None:
    """Write the new folder from scratch (a killed earlier attempt may have left half)."""
    _, new, _, _ = _paths(root, journal.service)
    shutil.rmtree(new, ignore_errors=True)
    apply(
        Change(root / entry.path, None, entry.new)
        for entry in journal.entries
        if _in_new_folder(root, journal, entry)
    )


def write(root: Path, journal: Journal) -> None:
    """Steps 2 to 4 for a journal just written (see the module docstring).

    A write that fails in step 2 (a full disk) removes the new folder again and raises
    `WriteFailed`: the folder is as before and the journal can go.
    """
    try:
        _write_new(root, journal)
    except WriteFailed:
        shutil.rmtree(_paths(root, journal.service)[1], ignore_errors=True)
        raise
    _swap(root, journal)


def finish(root: Path, journal: Journal) -> None:
    """Complete the adoption from wherever it stopped (the journal is left to the caller)."""
    _, _, old, done = _paths(root, journal.service)
    if not done.exists() and not old.exists():
        _write_new(root, journal)  # it may have stopped half-way through writing it
    _swap(root, journal)


def _swap(root: Path, journal: Journal) -> None:
    """Steps 3 and 4, from wherever they stopped."""
    folder, new, old, done = _paths(root, journal.service)
    if not done.exists() and not old.exists():
        os.rename(folder, old)
    if new.exists():
        os.rename(new, folder)
    _write_outside(root, journal)
    if old.exists():
        os.rename(old, done)
    if done.exists():
        shutil.rmtree(done)


def can_roll_back(root: Path, journal: Journal) -> bool:
    """False once the hand-written folder has started to be deleted (step 4), or is gone.

    Killed after step 4 but before the journal went, no side folder is left and the service
    folder holds the new files: nothing hand-written is left to put back.
    """
    folder, new, old, done = _paths(root, journal.service)
    if done.exists():
        return False
    if old.exists() or new.exists():
        return True
    return not _holds_new_files(root, journal, folder, new)


def _holds_new_files(root: Path, journal: Journal, folder: Path, new: Path) -> bool:
    """Whether `folder` holds every file of the new folder `new`, with its journal text."""
    inside = [e for e in journal.entries if _in_new_folder(root, journal, e)]
    for entry in inside:
        path = folder / (root / entry.path).relative_to(new)
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                if handle.read() != entry.new:
                    return False
        except (OSError, UnicodeDecodeError):
            return False
    return bool(inside)


def roll_back(root: Path, journal: Journal) -> None:
    """Put the hand-written folder back and delete the new one; see `can_roll_back`."""
    folder, new, old, _ = _paths(root, journal.service)
    _restore_outside(root, journal)
    if old.exists():
        if folder.exists():
            shutil.rmtree(new, ignore_errors=True)
            os.rename(folder, new)
        os.rename(old, folder)
    shutil.rmtree(new, ignore_errors=True)
