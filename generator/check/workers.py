"""Render and diff stamped copies on every core, keeping the order of the copies.

Rendering is pure Python (Copier and Jinja), so threads would take turns on one core; the
copies are split into chunks that worker processes render while this process waits for the
cluster builds and validates their output. The workers run at a lower priority than the
builds (`WORKER_NICENESS`), so the builds finish first and the renders fill the rest.
Workers are forked from this process, so they start with its imports, and each keeps one
`TemplateRenderer` (one checkout per template version) for every chunk it is given. The
findings come back in the order of the copies, whatever order the chunks finish in.

A chunk whose worker raises, or dies, is rendered again in this process: an error surfaces
exactly as it does in a check on one core, and a lost worker loses no finding.

Example::

    with RenderWork(render_findings, copies, root, "fast", jobs=2) as work:
        ...                         # other work while the workers render
        findings = work.findings()  # in the order of `copies`
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType

from generator.check.findings import Finding
from generator.copier_run.render import Engine, TemplateRenderer, fast_engine_available
from generator.stamped import StampedCopy
from generator.worker_lifetime import WorkerPool, start_worker

__all__ = [
    "AUTO_PARALLEL_FROM",
    "WORKER_NICENESS",
    "RenderFindings",
    "RenderWork",
    "available_cores",
    "jobs_for",
]

RenderFindings = Callable[[list[StampedCopy], Path, TemplateRenderer], Iterable[Finding]]

# The cluster builds are the longest tasks of a check and cannot be split; the renders come
# in small chunks. Workers that yield the cores to the builds finish the renders in whatever
# time the builds leave, instead of leaving the last build running alone on one core.
WORKER_NICENESS = 10
# Below this many copies, forking and a second template checkout cost more than they save.
AUTO_PARALLEL_FROM = 16
_CHUNKS_PER_WORKER = 4
_MAX_CHUNK = 8

_worker_renderer: TemplateRenderer | None = None


def available_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _can_fork() -> bool:
    # Fork shares this process's imports; elsewhere (macOS, Windows) a worker would start a
    # fresh interpreter and import everything again, which eats what it saves.
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def jobs_for(copies: int, jobs: int | None) -> int:
    """How many processes render `copies` copies: `jobs` if given, else every core for a fleet."""
    if jobs is not None:
        return max(1, jobs) if _can_fork() else 1
    if copies < AUTO_PARALLEL_FROM or not _can_fork():
        return 1
    return available_cores()


def _start_worker(engine: Engine, parent: int) -> None:
    global _worker_renderer
    start_worker(parent)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    # Ctrl-C reaches the whole process group: the parent stops the pool; workers just finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_renderer = TemplateRenderer(engine)  # its checkouts go with the worker's temp folder


def _render_chunk(
    render: RenderFindings, copies: list[StampedCopy], root: Path
) -> list[Finding] | None:
    """In a worker: the chunk's findings, or None when anything failed (the parent redoes it)."""
    assert _worker_renderer is not None
    try:
        return list(render(copies, root, _worker_renderer))
    except Exception:  # the parent renders the chunk again and raises it there
        return None


def _chunks(copies: Sequence[StampedCopy], jobs: int) -> list[list[StampedCopy]]:
    size = max(1, min(_MAX_CHUNK, math.ceil(len(copies) / (jobs * _CHUNKS_PER_WORKER))))
    return [list(copies[start : start + size]) for start in range(0, len(copies), size)]


class RenderWork:
    """The findings of rendering `copies`, computed by `jobs` processes."""

    def __init__(
        self,
        render: RenderFindings,
        copies: Sequence[StampedCopy],
        root: Path,
        engine: Engine,
        jobs: int,
    ) -> None:
        self._render = render
        self._root = root
        self._engine = engine
        self._chunks = _chunks(copies, jobs) if jobs > 1 else [list(copies)]
        self._jobs = min(jobs, len(self._chunks))
        self._pool: WorkerPool | None = None
        self._futures: list[Future[list[Finding] | None]] = []
        self._local: TemplateRenderer | None = None

    def __enter__(self) -> RenderWork:
        if self._jobs > 1:
            if self._engine == "fast":
                fast_engine_available()  # imports Copier once, here, for every worker
            self._pool = WorkerPool(
                max_workers=self._jobs,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker,
                initargs=(self._engine, os.getpid()),
            )
            try:
                self._futures = [
                    self._pool.submit(_render_chunk, self._render, chunk, self._root)
                    for chunk in self._chunks
                ]
            except Exception:  # no worker could start (a daemon process, no memory): one core
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool, self._futures = None, []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._local is not None:
            self._local.close()

    def _here(self, chunk: list[StampedCopy]) -> list[Finding]:
        if self._local is None:
            self._local = TemplateRenderer(self._engine)
        return list(self._render(chunk, self._root, self._local))

    def findings(self) -> list[Finding]:
        """Every chunk's findings, in the order of the copies (waits for the workers)."""
        found: list[Finding] = []
        if not self._futures:
            for chunk in self._chunks:
                found.extend(self._here(chunk))
            return found
        for chunk, future in zip(self._chunks, self._futures, strict=True):
            try:
                result = future.result()
            except Exception:  # a lost worker (BrokenProcessPool), an unpicklable copy
                result = None
            found.extend(self._here(chunk) if result is None else result)
        return found
