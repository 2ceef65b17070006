"""The fast path of `gitops-onboard update`: `copier update` of each copy, done in process.

Renders come from worker processes (`RenderPool`, one template checkout per version and
process), a window ahead of the copy being written, so rendering uses the other core while
this process merges and writes. Writing a copy (`apply_update`) follows `copier update`
step by step (see `generator.update_merge`) and runs the template's task through the same
function `gitops-onboard _task` calls.

A copy the fast path cannot promise to update exactly as Copier would raises `Unsupported`
(or its render says why), and the caller runs real `copier update` for it.

Before writing a copy, its folder and the files it creates are recorded in
`<git dir>/gitops-onboard/update.json`; the record goes once the copy and its task are done.
A run killed in between leaves it, and the next `update` puts that copy back as git has it
(`undo_interrupted`) before updating it again, so every copy is either old or new.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from generator import walk
from generator.answers import load_answers
from generator.copier_run.task import run_task
from generator.copier_run.update_render import UpdateRenderer, UpdateRenders
from generator.fsutil import write_atomic
from generator.git import git
from generator.lock import state_dir
from generator.runner import run
from generator.update_merge import MergePlan, Unsupported, blob_sha, plan_merge
from generator.worker_lifetime import WorkerPool, start_worker

__all__ = [
    "AUTO_PARALLEL_FROM",
    "Applied",
    "RenderJob",
    "RenderPool",
    "Unsupported",
    "apply_update",
    "default_jobs",
    "read_index",
    "render_processes",
    "undo_interrupted",
]

JOURNAL = "update.json"
# Below this many copies to render, a worker process costs more than it saves: starting one
# (an interpreter, Copier's import, a checkout of each template version) takes about as long
# as rendering 30 copies here. `scripts/bench_update.py --jobs 1,2` measures the crossover.
AUTO_PARALLEL_FROM = 32


def default_jobs() -> int:
    """The processes an update uses unless told: up to 4, one per core."""
    return min(4, os.cpu_count() or 1)


def render_processes(copies: int, jobs: int | None) -> int:
    """How many processes render `copies` copies.

    `jobs` if given; else this process alone below `AUTO_PARALLEL_FROM` copies, and
    `default_jobs()` from there.
    """
    if jobs is not None:
        return max(1, jobs)
    return 1 if copies < AUTO_PARALLEL_FROM else default_jobs()


@dataclass(frozen=True)
class RenderJob:
    """One copy to render: its folder (absolute), folder in its repo, template versions."""

    folder: Path
    subdir: str
    src: str
    commit: str
    target: str


# In a worker, its checkouts go with the worker's own temp folder (`start_worker`).
_renderer: UpdateRenderer | None = None


def _render(job: RenderJob) -> UpdateRenders:
    global _renderer
    if _renderer is None:
        _renderer = UpdateRenderer()
    return _renderer.render(job.folder, job.subdir, job.src, job.commit, job.target)


def _close_renderer() -> None:
    global _renderer
    if _renderer is not None:
        _renderer.close()
        _renderer = None


class RenderPool:
    """Renders jobs in `jobs` worker processes, at most `window` ahead of the reader.

    With `jobs` 1 it renders in this process, when asked.
    """

    def __init__(self, jobs: Sequence[RenderJob], workers: int) -> None:
        self._jobs = list(jobs)
        self._index = {job: i for i, job in enumerate(self._jobs)}
        self._futures: dict[int, Future[UpdateRenders]] = {}
        self._next = 0
        self._window = 4 * workers
        self._pool: WorkerPool | None = None
        if workers > 1 and self._jobs:
            # Spawned, not forked: a worker must not inherit a repository lock or any other
            # descriptor, so a killed run leaves no process holding one.
            context = multiprocessing.get_context("spawn")
            self._pool = WorkerPool(
                max_workers=workers,
                mp_context=context,
                initializer=start_worker,
                initargs=(os.getpid(),),
            )
            self._fill(0)

    def close(self) -> None:
        """Stop the worker processes (or drop this process's checkouts)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        else:
            _close_renderer()

    def _fill(self, upto: int) -> None:
        assert self._pool is not None
        while self._next < min(len(self._jobs), upto + self._window):
            self._futures[self._next] = self._pool.submit(_render, self._jobs[self._next])
            self._next += 1

    def get(self, job: RenderJob) -> UpdateRenders:
        """The renders of `job` (rendered now when it was not planned)."""
        index = self._index.get(job)
        if self._pool is None or index is None:
            return _render(job)
        self._fill(index)
        future = self._futures.pop(index, None)
        if future is None:
            return _render(job)
        try:
            return future.result()
        except Exception as error:  # a crashed worker process
            return UpdateRenders(fallback=f"the render process failed: {error}")


def read_index(repo: Path) -> dict[str, tuple[str, str]]:
    """The repository's index: path -> (mode, object id), merged entries only."""
    entries: dict[str, tuple[str, str]] = {}
    out = git("ls-files", "-s", "-z", cwd=repo)
    for record in out.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, sha, stage = meta.split()
        if stage == "0":
            entries[path] = (mode, sha)
    return entries


def _copy_files(
    repo: Path, prefix: str, renders: UpdateRenders, index: dict[str, tuple[str, str]]
) -> dict[str, bytes]:
    """The copy's files at the paths either render has, as git has them; or `Unsupported`."""
    folder = repo / prefix if prefix else repo
    files: dict[str, bytes] = {}
    for path in sorted(set(renders.old) | set(renders.new)):
        target = folder / path
        for part in [target, *target.parents]:
            if part == folder:
                break
            if part.is_symlink():
                raise Unsupported(f"{prefix}{path}: {part.relative_to(repo)} is a symlink")
        entry = index.get(prefix + path)
        if entry is None:
            if os.path.lexists(target):
                raise Unsupported(f"{prefix}{path} is on disk but not tracked by git")
            continue
        mode, sha = entry
        if mode != "100644":
            raise Unsupported(f"{prefix}{path} has git mode {mode}")
        try:
            data = target.read_bytes()
        except OSError as error:
            raise Unsupported(f"{prefix}{path} cannot be read ({error.strerror})") from None
        if blob_sha(data) != sha:
            raise Unsupported(f"{prefix}{path} on disk differs from git's copy")
        files[path] = data
    return files


_TEMP = ".gitops-onboard-update-tmp"


def _write(path: Path, data: bytes, mode: int | None) -> None:
    """Replace `path` with `data` by a rename, so a kill never leaves a file cut short."""
    if path.is_symlink():
        path.unlink()
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}{_TEMP}")
    temp.write_bytes(data)
    keep = mode if mode is not None else (path.stat().st_mode & 0o7777 if path.exists() else None)
    if keep is not None and (temp.stat().st_mode & 0o7777) != keep:
        temp.chmod(keep)
    os.replace(temp, path)


@contextmanager
def _journaled(repo: Path, folder: str, created: list[str]) -> Iterator[None]:
    journal = state_dir(repo) / JOURNAL
    journal.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(journal, json.dumps({"folder": folder, "created": created}))
    yield
    journal.unlink(missing_ok=True)


def undo_interrupted(repo: Path) -> str | None:
    """Put back, as git has it, a copy whose fast update was killed; return its folder."""
    journal = state_dir(repo) / JOURNAL
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
        folder, created = str(record["folder"]), [str(p) for p in record["created"]]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        journal.unlink(missing_ok=True)
        return None
    for path in created:
        target = repo / path
        if target.resolve().is_relative_to(repo.resolve()) and target.is_file():
            target.unlink()
    if not (repo / folder).resolve().is_relative_to(repo.resolve()):
        journal.unlink(missing_ok=True)
        return None
    for temp in walk.repo_files(repo / folder):
        if temp.name.endswith(_TEMP) and not temp.is_symlink() and temp.is_file():
            temp.unlink()
    git("checkout", "-q", "--", folder, cwd=repo)
    journal.unlink(missing_ok=True)
    return folder


def _record_conflicts(
    repo: Path, prefix: str, plan: MergePlan, index: dict[str, tuple[str, str]]
) -> None:
    """Stages 1, 2 and 3 in the index for each conflicted file, as Copier records them."""
    lines = []
    for path, (old, new) in sorted(plan.conflicts.items()):
        name = prefix + path
        mode, sha = index[name]
        lines += [f"0 {'0' * 40}\t{name}", f"{mode} {sha} 2\t{name}"]
        for stage, data in ((1, old), (3, new)):
            if data is None:
                continue
            blob = run(
                ["git", "hash-object", "-w", "--no-filters", "--stdin"],
                stdin=data.decode("utf-8"),
                cwd=repo,
            ).stdout.strip()
            lines.append(f"{mode} {blob} {stage}\t{name}")
    if lines:
        run(["git", "update-index", "--index-info"], stdin="\n".join(lines), cwd=repo)


@dataclass(frozen=True)
class Applied:
    """What an update did to git's files (repo-relative): conflicted and deleted files."""

    conflicts: list[str]
    deleted: list[str]


def apply_update(
    repo: Path, folder: str, renders: UpdateRenders, index: dict[str, tuple[str, str]]
) -> Applied:
    """Update the copy at `folder` (relative to `repo`) from its renders, as Copier would.

    Raises `Unsupported` before writing anything when the copy is not in a state it can
    reproduce Copier on.
    """
    prefix = "" if folder == "." else folder.rstrip("/") + "/"
    base = repo / prefix if prefix else repo
    copy = _copy_files(repo, prefix, renders, index)
    plan = plan_merge(renders, copy, prefix=prefix, repo=repo)
    created = sorted(
        prefix + p for p in set(plan.rendered) | set(plan.final) if prefix + p not in index
    )
    with _journaled(repo, folder, created):
        for path, data in plan.rendered.items():
            _write(base / path, data, renders.modes.get(path))
        answers = load_answers(base / renders.answers_file)
        run_task(renders.kind, base, answers, [])
        for path in plan.removed:
            (base / path).unlink(missing_ok=True)
        for path, data in plan.final.items():
            _write(base / path, data, None)
        for path in plan.dirs:
            with suppress(OSError):
                (base / path).rmdir()
        _record_conflicts(repo, prefix, plan, index)
    deleted = [prefix + p for p in plan.removed if prefix + p in index]
    return Applied(sorted(prefix + p for p in plan.conflicts), sorted(deleted))
