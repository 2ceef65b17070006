"""One advisory lock per repo: every read-modify-write of an infra or app repo holds it.

The lock is `fcntl.flock` on `<git dir>/gitops-onboard/lock` (`.<name>.gitops-onboard/lock`
beside the repo root when the repo has no `.git`). The kernel drops it when its holder exits,
however it exits, so a killed command never leaves it held. The file records the holder
(pid, command, start time) for the message of whoever waits.

A command that holds the lock and runs Copier, whose task (a child process) takes the same
lock, hands it down: a process that finds the lock held by one of its ancestors (its parent,
or the parent's parent...) goes ahead without waiting. Ancestry, not an environment variable,
because Copier gives its tasks the environment it saw when it was imported. Any other
process waits, at most `GITOPS_ONBOARD_LOCK_TIMEOUT` seconds (default 60), then gives up
naming the holder. Within one process the lock is re-entrant.

Example::

    with repo_lock(root, "gitops-onboard secrets set web API_KEY"):
        ...  # read, change and write files of the repo
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from generator.errors import InputError, OnboardError

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_ENV",
    "Holder",
    "LockTimeout",
    "lock_path",
    "repo_lock",
    "state_dir",
]

TIMEOUT_ENV = "GITOPS_ONBOARD_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
_POLL = 0.05
_log = logging.getLogger(__name__)
_held: dict[str, Holder] = {}


@dataclass(frozen=True)
class Holder:
    """Who holds a repo lock; `token` identifies one acquisition."""

    pid: int
    command: str
    started: str
    token: str

    def describe(self) -> str:
        """`pid N (command) since TIME`, as messages show it."""
        return f"pid {self.pid} ({self.command}) since {self.started}"


class LockTimeout(OnboardError):
    """Another process held the repo lock for longer than the wait allows."""


def state_dir(root: Path) -> Path:
    """The folder of the lock and the journal of the repo at `root`.

    `<git dir>/gitops-onboard` (a worktree's own git dir too), else a hidden folder beside
    the repo root, so neither ever shows up as a change in the repo.
    """
    root = root.resolve()
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git / "gitops-onboard"
    if dot_git.is_file():
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            git_dir = Path(text.removeprefix("gitdir:").strip())
            return (root / git_dir).resolve() / "gitops-onboard"
    return root.parent / f".{root.name}.gitops-onboard"


def lock_path(root: Path) -> Path:
    """The lock file of the repo at `root`."""
    return state_dir(root) / "lock"


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise InputError(TIMEOUT_ENV, "must be a number of seconds (0 or more)", raw)
    return value


def _parent_of(pid: int) -> int:
    """The parent of process `pid` (0 when unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        found = subprocess.run(
            ["ps", "-o", "ppid=", "-p", str(pid)], capture_output=True, text=True, check=False
        )
        return int(found.stdout.strip() or 0)
    except (OSError, ValueError):
        return 0


def _is_ancestor(pid: int) -> bool:
    """True when process `pid` is this process's parent, grandparent, ..."""
    seen: set[int] = set()
    current = os.getppid()
    while current > 1 and current not in seen:
        if current == pid:
            return True
        seen.add(current)
        current = _parent_of(current)
    return False


def _read_holder(fd: int) -> Holder | None:
    try:
        data = json.loads(os.pread(fd, 65536, 0).decode("utf-8"))
        return Holder(int(data["pid"]), str(data["command"]), str(data["started"]), data["token"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_holder(fd: int, holder: Holder) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(asdict(holder)).encode("utf-8") + b"\n", 0)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _acquire(fd: int, root: Path, wait: float) -> Holder | None:
    """Take the lock (return None) or find it held by an ancestor (return its holder)."""
    started = time.monotonic()
    deadline = started + wait
    told = False
    while not _try_lock(fd):
        holder = _read_holder(fd)
        if holder is not None and _is_ancestor(holder.pid):
            return holder
        shown = holder.describe() if holder else "another process"
        # The holder writes its record just after taking the lock: give it a moment.
        if not told and (holder is not None or time.monotonic() - started > 1):
            _log.info("waiting for the lock held by %s on %s", shown, root)
            told = True
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"{root} is locked by {shown}; gave up after {wait:g} s (wait longer with "
                f"{TIMEOUT_ENV}=SECONDS; a killed holder releases the lock by itself)"
            )
        time.sleep(_POLL)
    return None


@contextlib.contextmanager
def repo_lock(root: Path, command: str, *, timeout: float | None = None) -> Iterator[Holder]:
    """Hold the lock of the repo at `root` for the block; yield the holder's record.

    `command` says who holds it (`gitops-onboard onboard web`). Waits while another process
    holds it and raises `LockTimeout` after `timeout` seconds (default: the environment's
    `GITOPS_ONBOARD_LOCK_TIMEOUT`, else 60).
    """
    path = lock_path(root)
    key = str(path)
    if key in _held:
        yield _held[key]
        return
    wait = _timeout(timeout)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        ancestor = _acquire(fd, root.resolve(), wait)
        if ancestor is not None:
            _held[key] = ancestor
            try:
                yield ancestor
            finally:
                del _held[key]
            return
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        holder = Holder(os.getpid(), command, started, secrets.token_hex(16))
        _write_holder(fd, holder)
        _held[key] = holder
        try:
            yield holder
        finally:
            del _held[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)
