"""A worker process ends with the command that started it, even when that one is killed.

A `concurrent.futures.ProcessPoolExecutor` worker waits for work on a queue whose write end
it holds itself, so it never reads end-of-file when its parent dies: a command killed with
`kill -9` (or by the OOM killer) left its idle workers behind for good. Every pool of
gitops-onboard starts its workers with `start_worker(os.getpid())`, which calls
`exit_with_parent`: a daemon thread in the worker ends it once the parent is gone. Workers
only render into memory and temp folders, so ending one at any moment loses nothing of the
repository.

Each worker (`start_worker`) also works in a temp folder of its own, inside the usual one,
so everything it and its tools put there (template checkouts, what Copier has in flight
for a render or an update cut short) goes with that folder: when the pool ends the worker,
and when the worker ends because its parent is gone. A pool worker ends with `os._exit`,
which runs no `atexit` handler, so anything else a worker must undo as it ends it hands to
`clean_up_when_ending`. A worker whose parent is gone first stops starting tools and ends
every one it still runs, with their own children (a git clone and its helpers), so none
writes on into its folder or outlives the command. Its own threads may still be at work as
it ends (Copier making its next checkout, folders that lead to it included), so the folder
is removed by a small process that waits for the worker to be gone.

A worker that cannot clean up (killed with `kill -9`, or ended with SIGTERM by a pool broken
by another worker's death) leaves its folder, so every pool is a `WorkerPool`: when it shuts
down, it removes the folder of each of its process's workers that is no longer running.

Example::

    WorkerPool(2, initializer=start_worker, initargs=(os.getpid(),))
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.util import Finalize
from pathlib import Path

__all__ = [
    "POLL_SECONDS",
    "WorkerPool",
    "clean_up_when_ending",
    "exit_with_parent",
    "remove_folders_of_ended_workers",
    "start_worker",
]

POLL_SECONDS = 0.5
_FOLDER_PREFIX = "gitops-onboard-worker-"

_clean_ups: list[Callable[[], None]] = []
# A forked worker starts with its own clean-ups, not its parent's (multiprocessing clears
# its `Finalize` registry in a new process the same way).
os.register_at_fork(after_in_child=_clean_ups.clear)


def clean_up_when_ending(clean_up: Callable[[], None]) -> None:
    """Run `clean_up` as this process ends, however it ends.

    At a pool's shutdown, at interpreter exit, or when `exit_with_parent` ends it; it may
    run more than once.
    """
    _clean_ups.append(clean_up)
    Finalize(None, clean_up, exitpriority=10)


def _children(pid: int) -> list[int]:
    """The processes `pid` started that still run (Linux; elsewhere none are found)."""
    found: list[int] = []
    for listed in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError, ValueError):
            found += [int(child) for child in listed.read_text().split()]
    return found


def _descendants() -> list[int]:
    """The processes below this one, at any depth; but not its folder's remover."""
    found: list[int] = []
    todo = [os.getpid()]
    while todo:
        for child in _children(todo.pop()):
            if child != _remover:
                found.append(child)
                todo.append(child)
    return found


def _end_children() -> None:
    # A tool still running (a git clone into the temp folder) would write on after the
    # clean-ups, and outlive the command that was killed; so would the processes it started
    # (git's helpers, the shell script of `git submodule`), which an ended parent leaves
    # running. Each is stopped as it is found, so none starts another while the tree is
    # read, then all are ended.
    stopped: list[int] = []
    while fresh := [pid for pid in _descendants() if pid not in stopped]:
        for pid in fresh:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        stopped += fresh
    for pid in stopped:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for pid in stopped:
        with contextlib.suppress(OSError):  # only this process's own children are waited for
            os.waitpid(pid, 0)


def _refuse_new_tools() -> None:
    """From now on this process starts no program: each attempt raises OSError.

    Every tool a worker runs (git through Copier, the template's tasks) is started by
    `subprocess`; a thread still at work as the worker ends would otherwise start one after
    `_end_children`, and it would outlive the worker.
    """

    def refuse(*_: object) -> int:
        raise OSError("this worker is ending: it starts no more programs")

    subprocess._USE_POSIX_SPAWN = False  # type: ignore[misc]
    subprocess._fork_exec = refuse  # type: ignore[attr-defined]


_REMOVE_ATTEMPTS = 100


def _remove_folder(folder: str, *, own: bool) -> None:
    # The worker's own threads may still be at work while it ends (Copier making its next
    # checkout), and a folder made while `rmtree` runs would keep `folder` alive. So the
    # folder is first renamed: nothing more can be made under its old name, and what is
    # under the new one is removed until it is gone. In the worker (`own`), a tool started in
    # the meantime, which could still write there, is ended first; the command removing an
    # ended worker's folder has no such tool, and its own children are not to be touched.
    ending = f"{folder}.ending"
    try:
        os.rename(folder, ending)
    except OSError:  # gone already, or never made
        ending = folder
    if not own:
        shutil.rmtree(ending, ignore_errors=True)
        return
    for _ in range(_REMOVE_ATTEMPTS):
        shutil.rmtree(ending, ignore_errors=True)
        if not os.path.lexists(ending):
            return
        _end_children()


# The worker's own temp folder (`start_worker`), and the process that removes it once the
# worker is gone, when its parent went first (`_watch`).
_own_folder: str | None = None
_remover: int | None = None

# Waits for process $1 to end (a zombie has ended), then removes folder $2 however named.
_REMOVE_AFTER = (
    'while kill -0 "$1" 2>/dev/null && ! grep -q "^State:.Z" "/proc/$1/status" 2>/dev/null;'
    ' do sleep 0.05; done; rm -rf -- "$2" "$2.ending"'
)


def _remove_after_this_process(folder: str) -> int | None:
    """Start a process that removes `folder` once this one has ended; its pid, or None."""
    shell = shutil.which("sh")
    if shell is None:
        return None
    try:
        remover = subprocess.Popen(
            [shell, "-c", _REMOVE_AFTER, "sh", str(os.getpid()), folder],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return None
    return remover.pid


def _remove_own_folder() -> None:
    if _own_folder is not None and _remover is None:
        _remove_folder(_own_folder, own=True)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    # The parent that wanted the results is gone: stop the tools this worker runs, run the
    # clean-ups, then end at once (whatever the worker was doing is of no use to anyone now).
    # The worker's other threads work on until it ends, making folders in its temp folder
    # (and the folders that lead to them), so that folder is removed by a process that waits
    # for the worker to be gone; removing it here would also fight those threads for the
    # interpreter, one system call at a time.
    global _remover
    if _own_folder is not None:
        _remover = _remove_after_this_process(_own_folder)
    _refuse_new_tools()
    _end_children()
    for clean_up in _clean_ups:
        with contextlib.suppress(Exception):  # the worker ends either way
            clean_up()
    os._exit(1)


def exit_with_parent(parent: int) -> None:
    """In a worker: exit once process `parent` (the pool's owner) is no longer its parent.

    `parent` is passed in rather than read here, so a parent that died before the worker got
    this far is noticed too (the worker has been handed to another process by then).
    """
    threading.Thread(target=_watch, args=(parent,), name="exit-with-parent", daemon=True).start()


def start_worker(parent: int) -> None:
    """In a worker: `exit_with_parent(parent)`, and a temp folder of its own (see above).

    Every temp file and folder the worker and the tools it runs make (`tempfile`, and `TMPDIR`
    for git) is then inside that folder, which goes when the worker ends, however it ends.
    """
    global _own_folder
    own = tempfile.mkdtemp(prefix=f"{_FOLDER_PREFIX}{parent}-{os.getpid()}-")
    _own_folder = own
    tempfile.tempdir = own
    os.environ["TMPDIR"] = own
    clean_up_when_ending(_remove_own_folder)
    exit_with_parent(parent)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # running, as another user
        return True
    return True


def remove_folders_of_ended_workers() -> None:
    """Remove the temp folders of this process's workers that no longer run.

    A folder is named `gitops-onboard-worker-<parent>-<worker>-<random>`, so only this
    process's own workers are looked at, and of those only the ones that are gone: another
    pool of this process may still be at work.
    """
    for folder in Path(tempfile.gettempdir()).glob(f"{_FOLDER_PREFIX}{os.getpid()}-*"):
        worker = folder.name.removeprefix(f"{_FOLDER_PREFIX}{os.getpid()}-").split("-", 1)[0]
        if worker.isdigit() and not _running(int(worker)):
            _remove_folder(str(folder), own=False)


class WorkerPool(ProcessPoolExecutor):
    """A `ProcessPoolExecutor` that, shutting down, removes what its ended workers left.

    Its workers are started with `start_worker` (or an initializer that calls it).
    """

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the pool down; once its workers have ended (`wait`), remove their folders."""
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        if wait:
            remove_folders_of_ended_workers()
