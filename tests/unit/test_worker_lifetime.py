"""generator.worker_lifetime: a worker ends once the process that started it is gone."""

from __future__ import annotations

import multiprocessing
import os
import time

from generator.worker_lifetime import POLL_SECONDS, exit_with_parent


def _worker(parent: int) -> None:
    exit_with_parent(parent)
    time.sleep(60)


def test_a_worker_outlives_nothing_but_stays_while_its_parent_runs() -> None:
    context = multiprocessing.get_context("spawn")
    kept = context.Process(target=_worker, args=(os.getpid(),))
    orphaned = context.Process(target=_worker, args=(os.getpid() + 1_000_000,))  # not its parent
    kept.start()
    orphaned.start()
    try:
        orphaned.join(timeout=30)
        assert orphaned.exitcode == 1
        time.sleep(3 * POLL_SECONDS)
        assert kept.is_alive()
    finally:
        kept.kill()
        orphaned.kill()
        kept.join()
        orphaned.join()
