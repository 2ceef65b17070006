"""A worker process ends with the command that started it, even when that one is killed.

A `concurrent.futures.ProcessPoolExecutor` worker waits for work on a queue whose write end
it holds itself, so it never reads end-of-file when its parent dies: a command killed with
`kill -9` (or by the OOM killer) left its idle workers behind for good. Every pool of
gitops-onboard starts its workers with `exit_with_parent(os.getpid())`: a daemon thread in
the worker ends it once the parent is gone. Workers only render into memory and temp
folders, so ending one at any moment loses nothing of the repository.

Example::

    ProcessPoolExecutor(2, initializer=exit_with_parent, initargs=(os.getpid(),))
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["POLL_SECONDS", "exit_with_parent"]

POLL_SECONDS = 0.5


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(1)  # no clean-up: the parent that wanted the results is gone


def exit_with_parent(parent: int) -> None:
    """In a worker: exit once process `parent` (the pool's owner) is no longer its parent.

    `parent` is passed in rather than read here, so a parent that died before the worker got
    this far is noticed too (the worker has been handed to another process by then).
    """
    threading.Thread(target=_watch, args=(parent,), name="exit-with-parent", daemon=True).start()
