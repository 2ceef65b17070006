"""Multi-file changes: planned first, written all-or-nothing, journaled against `kill -9`.

A `Change` is one file's new text. `apply` writes a list of them; if a write fails, the
files already written are restored and `WriteFailed` says which file and why.

A process killed half-way cannot restore anything, so a change that spans several files or
steps (onboarding, offboarding, the Copier task of a service) first writes a `Journal` to
`<git dir>/gitops-onboard/journal.json` (atomically), and removes it after its last write.
The journal names the command, the service and each planned file with its old and new text
and their SHA-256 (file texts are cluster kustomizations and sops ciphertext, never secret
plaintext); for an onboarding also the answers Copier renders from. The next writing
command finds it and refuses to start, naming the command that finishes or undoes it.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from generator.errors import OnboardError
from generator.fsutil import write_atomic
from generator.lock import state_dir

__all__ = [
    "Change",
    "Journal",
    "JournalEntry",
    "Kind",
    "WriteFailed",
    "apply",
    "clear_journal",
    "entries_of",
    "journal_path",
    "read_journal",
    "remove_empty_dirs",
    "remove_strays",
    "rollback",
    "write_journal",
]

JOURNAL_FILE = "journal.json"
Kind = Literal["onboard", "task", "offboard", "adopt", "promote"]


@dataclass(frozen=True)
class Change:
    """One file's new text; `old` is None when the file does not exist yet."""

    path: Path
    old: str | None
    new: str


class WriteFailed(OnboardError):
    """A planned write failed; every file written before it was restored."""


def apply(changes: Iterable[Change]) -> list[Path]:
    """Write every change; on failure restore what was written and raise `WriteFailed`."""
    done: list[Change] = []
    try:
        for change in changes:
            try:
                write_atomic(change.path, change.new)
            except OSError as error:
                reason = error.strerror or type(error).__name__
                raise WriteFailed(
                    f"cannot write {change.path}: {reason}; every file is back as it was"
                ) from error
            done.append(change)
    except BaseException:
        for change in reversed(done):
            if change.old is None:
                change.path.unlink(missing_ok=True)
                remove_empty_dirs(change.path.parent)
            else:
                write_atomic(change.path, change.old)
        raise
    return [change.path for change in done]


def remove_empty_dirs(folder: Path, stop: Path | None = None) -> None:
    """Remove `folder` and its parents while they are empty (never `stop` or above)."""
    while folder != stop and folder != folder.parent:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _sha(text: str | None) -> str:
    return "" if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class JournalEntry:
    """One planned file of a journaled change, its path relative to the repo root."""

    path: str
    old: str | None
    new: str
    old_sha256: str = ""
    new_sha256: str = ""

    @classmethod
    def of(cls, root: Path, change: Change) -> JournalEntry:
        """The entry of `change`, a file of the repo at `root`."""
        relative = change.path.resolve().relative_to(root.resolve()).as_posix()
        return cls(relative, change.old, change.new, _sha(change.old), _sha(change.new))

    def current(self, root: Path) -> str | None:
        """The file's text now (None when it does not exist or cannot be read)."""
        try:
            return (root / self.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class Journal:
    """What a multi-file change in progress intends; see the module docstring.

    `kind` is `onboard` (the command line's onboarding), `task` (the Copier task of a
    service), `offboard`, `adopt` (see `generator.adopt_write`) or `promote` (finished by
    running it again). `created` lists folders the change creates (relative paths), removed
    by undoing it; `copier` holds template, vcs_ref and data of an onboarding.
    """

    kind: Kind
    service: str
    command: str
    pid: int
    started: str
    token: str
    entries: tuple[JournalEntry, ...] = ()
    created: tuple[str, ...] = ()
    onboarding: bool = True
    copier: dict[str, Any] = field(default_factory=dict)

    def finish_command(self) -> str:
        """The command that completes the interrupted change."""
        if self.kind == "offboard":
            return f"gitops-onboard offboard {self.service}"
        if self.kind == "adopt":
            return f"gitops-onboard adopt apps/{self.service} --resume"
        if self.kind == "promote":
            return self.command
        return f"gitops-onboard onboard --resume {self.service}"

    def undo_command(self) -> str | None:
        """The command that takes it back, if any (an interrupted update has none)."""
        if self.kind == "adopt":
            return f"gitops-onboard adopt apps/{self.service} --rollback"
        if self.kind not in ("offboard", "promote") and self.onboarding:
            return f"gitops-onboard offboard {self.service}"
        return None

    def to_json(self) -> str:
        """The journal file's text."""
        data = asdict(self)
        return json.dumps(data, indent=1, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Journal:
        """Parse a journal file; raise `ValueError` when it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        entries = tuple(JournalEntry(**entry) for entry in data.pop("entries", []))
        created = tuple(str(item) for item in data.pop("created", []))
        try:
            journal = cls(entries=entries, created=created, **data)
        except TypeError as error:
            raise ValueError(str(error)) from None
        kinds = ("onboard", "task", "offboard", "adopt", "promote")
        if journal.kind not in kinds or not journal.service:
            raise ValueError("unknown kind or no service")
        return journal


def journal_path(root: Path) -> Path:
    """The journal file of the repo at `root` (beside its lock)."""
    return state_dir(root) / JOURNAL_FILE


def read_journal(root: Path) -> Journal | None:
    """The journal left in the repo at `root`, if any.

    Raises `OnboardError` for a journal that cannot be read, naming the file.
    """
    path = journal_path(root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise OnboardError(f"{path}: cannot be read ({error})") from None
    try:
        return Journal.from_json(text)
    except ValueError as error:
        raise OnboardError(
            f"{path} is damaged ({error}); it records an interrupted change: look at "
            "`git status`, repair the repo, then delete the file"
        ) from None


def write_journal(root: Path, journal: Journal) -> None:
    """Write the journal atomically (it exists entirely or not at all)."""
    write_atomic(journal_path(root), journal.to_json(), mode=0o644)


def clear_journal(root: Path) -> None:
    """Remove the journal once its change is complete (or fully undone)."""
    path = journal_path(root)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    if path.parent.is_dir():  # a journal write that was killed before its rename
        for stray in path.parent.glob(f".{JOURNAL_FILE}.*.tmp"):
            stray.unlink(missing_ok=True)


def entries_of(root: Path, changes: Sequence[Change]) -> tuple[JournalEntry, ...]:
    """Journal entries for `changes` in the repo at `root`."""
    return tuple(JournalEntry.of(root, change) for change in changes)


def remove_strays(root: Path, entries: Sequence[JournalEntry]) -> None:
    """Delete the temp files a killed `write_atomic` left beside the entries' files.

    `write_atomic` writes `.<name>.<random>.tmp` in the file's folder, then renames it.
    """
    for entry in entries:
        path = root / entry.path
        if path.parent.is_dir():
            for stray in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
                stray.unlink(missing_ok=True)


def rollback(root: Path, entries: Sequence[JournalEntry]) -> list[Path]:
    """Put back the old text of every entry whose file still holds its new text.

    A file created by the change is deleted (with the folders it emptied); a file that holds
    neither text was changed since and is left alone. Returns the files put back.
    """
    remove_strays(root, entries)
    restored = []
    for entry in reversed(entries):
        if entry.current(root) != entry.new:
            continue
        path = root / entry.path
        if entry.old is None:
            path.unlink(missing_ok=True)
            remove_empty_dirs(path.parent, stop=root)
        else:
            write_atomic(path, entry.old)
        restored.append(path)
    return restored
