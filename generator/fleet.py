"""Fleet update: `copier update` of every stamped copy below a folder and in listed repos.

Copies are grouped by git repository. Within one repository they update one at a time (they
share its index), the repository's root copy first; repositories update in parallel worker
processes (`jobs`). Each copy ends as one of:

- `updated`   — now at the target version, no conflict left;
- `current`   — already at the target version, not touched;
- `conflicts` — updated, but files hold conflict markers or `.rej` files (listed); or not
                updated because markers an earlier update left are still there (file:line);
- `failed`    — Copier or git failed, the template could not be read, the recorded version
                is no tag of the template, or the answers file is broken or lost (the
                reason is kept); the next copy still runs;
- `dirty`     — uncommitted changes in the copy's folder: reported, never overwritten.

Before any copy updates, every recorded template source is checked against the allow-list
of its repository (`generator.sources`): one that is not allowed stops the whole run with
`UntrustedSourceError`, and Copier never starts.

A dry run clones each repository into a temporary folder and updates the clone, so a
template maintainer sees what a release would do to the whole fleet before tagging it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from generator import sources
from generator.answers import ANSWERS_FILE, load_answers
from generator.copier_run import copying
from generator.copier_run.update_render import copier_version_proven
from generator.damage import (
    conflict_blocks,
    lost_root_answers,
)
from generator.errors import InputError, OnboardError
from generator.fast_update import (
    RenderJob,
    RenderPool,
    Unsupported,
    apply_update,
    default_jobs,
    read_index,
    render_processes,
    undo_interrupted,
)
from generator.git import git, toplevel
from generator.infra_root import infra_roots_within
from generator.lock import repo_lock
from generator.releases import recorded_tag, recorded_version, releases, template_tags
from generator.runner import run
from generator.stamped import StampedCopy, find_copies
from generator.worker_lifetime import WorkerPool, start_worker

__all__ = ["Outcome", "RepoPlan", "UpdateResult", "plan", "read_repos_file", "update_fleet"]

Outcome = Literal["updated", "current", "conflicts", "failed", "dirty"]
_MARKERS = (b"<<<<<<< ", b">>>>>>> ")


@dataclass(frozen=True)
class UpdateResult:
    """What happened to one stamped copy.

    `note` says why real `copier update` ran for it while the fast path was on, or that an
    interrupted fast update of it was undone first.
    """

    path: str
    outcome: Outcome
    version_from: str
    version_to: str = ""
    files: tuple[str, ...] = ()
    reason: str = ""
    note: str = ""


@dataclass(frozen=True)
class RepoPlan:
    """The stamped copies of one git repository, root copy first.

    `folders` are relative to `repo`; `shown` is how each copy is named in the results.
    `damaged` are copies that cannot be updated at all (a broken or lost answers file),
    reported as failed in place of an update.
    """

    repo: Path
    folders: tuple[str, ...]
    shown: tuple[str, ...]
    commits: tuple[str, ...]
    sources: tuple[str, ...]
    damaged: tuple[UpdateResult, ...] = ()


def read_repos_file(path: Path) -> list[Path]:
    """The repositories listed in `path`: one folder a line, `#` comments, relative to it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError("--repos", f"must be a readable text file ({error})", str(path)) from None
    repos = []
    for line in lines:
        entry = line.split("#", 1)[0].strip()
        if entry:
            repos.append((path.parent / Path(entry).expanduser()).resolve())
    return repos


def _group(copies: Iterable[StampedCopy], shown: Callable[[Path], str]) -> list[RepoPlan]:
    by_repo: dict[Path, list[StampedCopy]] = {}
    loose: list[StampedCopy] = []
    for copy in copies:
        top = toplevel(copy.folder)
        if top is None:
            loose.append(copy)
        else:
            by_repo.setdefault(top.resolve(), []).append(copy)
    plans = []
    for repo, members in sorted(by_repo.items()):
        members.sort(key=lambda c: (len(c.folder.relative_to(repo).parts), c.folder.as_posix()))
        plans.append(
            RepoPlan(
                repo,
                tuple(c.folder.relative_to(repo).as_posix() or "." for c in members),
                tuple(shown(c.folder) for c in members),
                tuple(c.commit for c in members),
                tuple(c.src_path for c in members),
            )
        )
    plans.extend(
        RepoPlan(c.folder, (".",), (shown(c.folder),), (c.commit,), (c.src_path,)) for c in loose
    )
    return plans


def _shown_in(repo: Path) -> Callable[[Path], str]:
    def shown(folder: Path) -> str:
        return (repo / folder.relative_to(repo)).as_posix()

    return shown


def _damage(
    folder: Path,
    copies: list[StampedCopy],
    broken: list[tuple[Path, str]],
    shown: Callable[[Path], str],
) -> RepoPlan:
    """The copies below `folder` that cannot be updated: a lost root or broken answers files."""
    damaged = []
    for infra in sorted(infra_roots_within(folder, [c.folder for c in copies])):
        lost = lost_root_answers(infra)
        if lost is None:
            continue
        how, restore = lost
        damaged.append(
            UpdateResult(
                shown(infra),
                "failed",
                "",
                reason=f"{ANSWERS_FILE} is missing ({how}): the infra root's template "
                f"and version are unknown; restore it with `{restore}`",
            )
        )
    for path, problem in broken:
        damaged.append(
            UpdateResult(
                shown(path.parent),
                "failed",
                "",
                reason=f"{path.name} {problem}; Copier cannot update this copy (`git log -p -- "
                f"{shown(path)}` shows the last good version)",
            )
        )
    return RepoPlan(folder, (), (), (), (), tuple(damaged))


def _refuse_untrusted(copies: list[StampedCopy], allow_sources: Sequence[str]) -> None:
    refused = sources.untrusted(copies, allow_sources)
    if refused:
        copy, listing = refused[0]
        answers = copy.folder / copy.answers_file
        where = (
            answers.relative_to(listing.root).as_posix()
            if answers.is_relative_to(listing.root)
            else str(answers)
        )
        raise sources.UntrustedSourceError(
            f"{where} (_src_path)", copy.src_path, listing, more=len(refused) - 1
        )


def plan(
    path: Path, repos: Iterable[Path] = (), allow_sources: Sequence[str] = ()
) -> list[RepoPlan]:
    """Every stamped copy below `path` and in `repos`, grouped by repository.

    Raises `UntrustedSourceError` when a copy records a template source its repository does
    not allow (and `allow_sources` does not name).
    """
    root = path.resolve()
    if not root.is_dir():
        raise InputError("PATH", "must be an existing folder", str(path))
    copies, broken = find_copies(root)

    def shown_here(folder: Path) -> str:
        return folder.relative_to(root).as_posix() or "."

    plans = [_damage(root, copies, broken, shown_here)]
    plans.extend(_group(copies, shown_here))
    every = list(copies)
    for repo in repos:
        if not repo.is_dir():
            raise InputError("--repos", "lists a folder that does not exist", str(repo))
        listed, broken = find_copies(repo)
        damage = _damage(repo, listed, broken, _shown_in(repo))
        if not listed and not damage.damaged:
            raise InputError("--repos", "lists a folder with no stamped copy", str(repo))
        plans.append(damage)
        plans.extend(_group(listed, _shown_in(repo)))
        every.extend(listed)
    plans = [p for p in plans if p.folders or p.damaged]
    if not plans:
        raise InputError("PATH", "holds no stamped copy (.copier-answers.yml)", str(path))
    _refuse_untrusted(every, allow_sources)
    return plans


def _conflicted(repo: Path, folder: str) -> list[str]:
    """Files below `folder` left with conflicts: unmerged, `.rej`, or conflict markers."""
    found: set[str] = set()
    for line in git("ls-files", "-u", "--", folder, cwd=repo).splitlines():
        found.add(line.split("\t", 1)[1])
    status = git("status", "--porcelain", "--untracked-files=all", "--", folder, cwd=repo)
    for line in status.splitlines():
        name = line[3:].split(" -> ")[-1].strip('"')
        path = repo / name
        if name.endswith(".rej"):
            found.add(name)
        elif path.is_file():
            with path.open("rb") as handle:
                if any(line.startswith(_MARKERS) for line in handle):
                    found.add(name)
    return sorted(found)


def _park_unmerged(work: Path, folder: str) -> list[str]:
    """Take the unmerged index entries of `folder` out of the index and return them.

    Copier records conflicts as unmerged index entries, and `git write-tree` (which the next
    `copier update` in the same repository runs) refuses an index holding any. The entries
    go back with `_restore_unmerged` once every copy of the repository is done.
    """
    entries = git("ls-files", "-u", "--", folder, cwd=work).splitlines()
    paths = sorted({line.split("\t", 1)[1] for line in entries})
    if paths:
        git("reset", "-q", "--", *paths, cwd=work)
    return entries


def _restore_unmerged(work: Path, entries: list[str]) -> None:
    if not entries:
        return
    paths = sorted({line.split("\t", 1)[1] for line in entries})
    clear = [f"0 {'0' * 40}\t{path}" for path in paths]
    run(
        ["git", "update-index", "--index-info"],
        stdin="\n".join([*clear, *entries]) + "\n",
        cwd=work,
    )


def _park_deleted(work: Path, paths: Sequence[str], parked: list[str]) -> None:
    """Drop deleted files from the index until every copy of the repository is done.

    `copier update` applies the diff from its old render to the whole repository's index:
    a file an earlier copy's update deleted, still in the index, would come back. They go
    back with `_restore_deleted`, so the deletions show as unstaged changes.
    """
    if paths:
        git("update-index", "--force-remove", "--", *paths, cwd=work)
        parked.extend(paths)


def _restore_deleted(work: Path, parked: list[str]) -> None:
    if parked:
        git("reset", "-q", "--", *sorted(set(parked)), cwd=work)


def _tags(source: str, repo: Path, cache: dict[str, list[str] | OnboardError]) -> list[str]:
    if source not in cache:
        try:
            cache[source] = template_tags(source, cwd=repo)
        except OnboardError as error:
            cache[source] = error
    known = cache[source]
    if isinstance(known, OnboardError):
        raise known
    return known


def _leftover_conflicts(
    work: Path, folder: str, nested: Iterable[str]
) -> tuple[tuple[str, ...], str] | None:
    """Files with conflict markers in the copy at `folder` (nested copies apart); a reason."""
    blocks = conflict_blocks(work / folder, skip=[work / other for other in nested])
    if not blocks:
        return None
    where = [f"{b.path.relative_to(work).as_posix()}:{b.line}" for b in blocks]
    files = tuple(sorted({b.path.relative_to(work).as_posix() for b in blocks}))
    reason = (
        f"conflict markers (<<<<<<< ... >>>>>>>) an earlier update left unresolved at "
        f"{', '.join(where)}; resolve them and commit, then update"
    )
    return files, reason


class _Fast:
    """The fast path of one run: renders from `pool`, each repository's index read once."""

    def __init__(self, pool: RenderPool, off: str | None = None) -> None:
        self.pool = pool
        self.off = off
        self._index: dict[Path, dict[str, tuple[str, str]]] = {}
        self.deleted: list[str] = []

    def update(self, work: Path, folder: str, job: RenderJob, shown: str) -> UpdateResult | str:
        """The copy updated in process, or why real `copier update` must do it."""
        if self.off:
            return self.off
        if recorded_tag(job.commit) != job.commit:
            return f"the recorded _commit {job.commit} is not a release tag"
        renders = self.pool.get(job)
        if renders.fallback:
            return renders.fallback
        if work not in self._index:
            self._index[work] = read_index(work)
        try:
            applied = apply_update(work, folder, renders, self._index[work])
        except Unsupported as error:
            return str(error)
        except OnboardError as error:
            return UpdateResult(shown, "failed", job.commit, job.target, reason=str(error))
        self.deleted += applied.deleted
        if applied.conflicts:
            conflicts = tuple(applied.conflicts)
            return UpdateResult(shown, "conflicts", job.commit, job.target, conflicts)
        return UpdateResult(shown, "updated", job.commit, job.target)


def _update_one(
    work: Path,
    folder: str,
    shown: str,
    commit: str,
    target: str,
    dirty: bool,
    *,
    tags: list[str],
    source: str,
    allowed_by: Path,
    allow_sources: Sequence[str],
    fast: _Fast | None = None,
    parked: list[str] | None = None,
) -> UpdateResult:
    tag = recorded_tag(commit)
    if tag is not None and tag not in tags:
        newest = next(iter(releases(tags)), None)
        return UpdateResult(
            shown,
            "failed",
            commit,
            target,
            reason=f"{tag} is not a tag of the template {source}"
            + (f" (its newest release is {newest})" if newest else "")
            + "; set _commit back to the version this copy was stamped from",
        )
    have, want = recorded_version(commit), recorded_version(target)
    if have is not None and want is not None and have == want:
        return UpdateResult(shown, "current", commit, target)
    if have is not None and want is not None and have > want:
        return UpdateResult(
            shown, "failed", commit, target, reason=f"{commit} is newer; Copier never downgrades"
        )
    if dirty:
        return UpdateResult(
            shown, "dirty", commit, target, reason="uncommitted changes; commit or stash them"
        )
    via = ""
    if fast is not None:
        job = RenderJob(work / folder, folder, source, commit, target)
        fast_result = fast.update(work, folder, job, shown)
        if isinstance(fast_result, UpdateResult):
            return fast_result
        via = f"copier update: {fast_result}"
    parked = [] if parked is None else parked
    if fast is not None:
        _park_deleted(work, fast.deleted, parked)
        fast.deleted = []
    try:
        copying.update(
            work / folder,
            vcs_ref=target,
            conflict="inline",
            allow_sources=allow_sources,
            allowed_by=allowed_by,
        )
    except OnboardError as error:
        return UpdateResult(shown, "failed", commit, target, reason=str(error), note=via)
    finally:
        deleted = git("ls-files", "--deleted", "-z", "--", folder, cwd=work).split("\0")
        _park_deleted(work, [path for path in deleted if path], parked)
    conflicts = _conflicted(work, folder)
    if conflicts:
        return UpdateResult(shown, "conflicts", commit, target, tuple(conflicts), note=via)
    return UpdateResult(shown, "updated", commit, target, note=via)


def _nested(folders: Sequence[str], folder: str) -> list[str]:
    """The other copies' folders inside `folder`."""
    prefix = "" if folder == "." else folder.rstrip("/") + "/"
    return [f for f in folders if f != folder and f != "." and f.startswith(prefix)]


def _dirty(repo: Path, folders: Sequence[str], fast: bool) -> list[bool]:
    """Whether each folder has uncommitted changes (one `git status` on the fast path)."""
    if not fast:
        return [
            bool(git("status", "--porcelain", "--", folder, cwd=repo).strip()) for folder in folders
        ]
    changed = []
    records = iter(git("status", "--porcelain", "-z", cwd=repo).split("\0"))
    for record in records:
        if record:
            changed.append(record[3:])
            if record[0] in "RC":
                changed.append(next(records, ""))
    prefixes = ["" if f == "." else f.rstrip("/") + "/" for f in folders]
    return [any(path.startswith(prefix) for path in changed) for prefix in prefixes]


def _update_repo(
    repo_plan: RepoPlan,
    to: str | None,
    dry_run: bool,
    allow_sources: Sequence[str] = (),
    fast: _Fast | None = None,
) -> list[UpdateResult]:
    """Update the copies of one repository in order; never raises for one copy's failure."""
    repo = repo_plan.repo
    if not repo_plan.folders:
        return list(repo_plan.damaged)
    try:
        undone = None if dry_run else undo_interrupted(repo)
        dirty = _dirty(repo, repo_plan.folders, fast is not None)
    except OnboardError as error:
        return [
            UpdateResult(shown, "failed", commit, reason=f"not a usable git repository: {error}")
            for shown, commit in zip(repo_plan.shown, repo_plan.commits, strict=True)
        ]
    scratch = tempfile.mkdtemp(prefix="gitops-onboard-dry-run-") if dry_run else None
    try:
        work = repo
        if scratch is not None:
            work = Path(scratch) / repo.name
            git("clone", "-q", "--shared", str(repo), str(work), cwd=Path(scratch))
        tags: dict[str, list[str] | OnboardError] = {}
        results = list(repo_plan.damaged)
        unmerged: list[str] = []
        parked: list[str] = []
        for index, folder in enumerate(repo_plan.folders):
            shown, commit = repo_plan.shown[index], repo_plan.commits[index]
            if folder == undone:
                commit = _recorded_commit(work / folder, commit)
            source = repo_plan.sources[index]
            leftover = _leftover_conflicts(work, folder, _nested(repo_plan.folders, folder))
            if leftover is not None:
                results.append(UpdateResult(shown, "conflicts", commit, to or "", *leftover))
                continue
            try:
                known = _tags(source, repo, tags)
            except OnboardError as error:
                results.append(UpdateResult(shown, "failed", commit, reason=str(error)))
                continue
            target = to or next(iter(releases(known)), None)
            if target is None:
                results.append(
                    UpdateResult(shown, "failed", commit, reason="the template has no release tag")
                )
                continue
            result = _update_one(
                work,
                folder,
                shown,
                commit,
                target,
                dirty[index],
                tags=known,
                source=source,
                allowed_by=repo / folder,
                allow_sources=allow_sources,
                fast=fast,
                parked=parked,
            )
            if undone is not None and folder == undone:
                result = replace(result, note=_join(_UNDONE, result.note))
            if result.outcome == "conflicts":
                unmerged.extend(_park_unmerged(work, folder))
            results.append(result)
        if fast is not None:
            fast.deleted = []
        _restore_deleted(work, parked)
        _restore_unmerged(work, unmerged)
        return results
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _update_repo_locked(
    repo_plan: RepoPlan,
    to: str | None,
    dry_run: bool,
    allow_sources: Sequence[str] = (),
    fast: _Fast | None = None,
) -> list[UpdateResult]:
    """`_update_repo` holding the repository's lock (a dry run only reads it)."""
    if dry_run:
        return _update_repo(repo_plan, to, dry_run, allow_sources, fast)
    try:
        with repo_lock(repo_plan.repo, "gitops-onboard update"):
            return _update_repo(repo_plan, to, dry_run, allow_sources, fast)
    except OnboardError as error:
        return [
            UpdateResult(shown, "failed", commit, reason=str(error))
            for shown, commit in zip(repo_plan.shown, repo_plan.commits, strict=True)
        ]


_UNDONE = "an interrupted update of this copy was undone first"


def _recorded_commit(folder: Path, planned: str) -> str:
    """The `_commit` the copy records now (planned before an interrupted update was undone)."""
    try:
        return str(load_answers(folder / ANSWERS_FILE).get("_commit") or planned)
    except OnboardError:
        return planned


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _render_jobs(plans: Sequence[RepoPlan], to: str | None) -> list[RenderJob]:
    """The copies the fast path will likely render, in the order they update."""
    jobs = []
    tags: dict[str, list[str] | OnboardError] = {}
    for repo_plan in plans:
        for folder, commit, source in zip(
            repo_plan.folders, repo_plan.commits, repo_plan.sources, strict=True
        ):
            try:
                known = _tags(source, repo_plan.repo, tags)
            except OnboardError:
                continue
            target = to or next(iter(releases(known)), None)
            have = recorded_version(commit)
            want = recorded_version(target) if target else None
            if target is None or recorded_tag(commit) != commit or commit not in known:
                continue
            if have is not None and want is not None and have >= want:
                continue
            jobs.append(RenderJob(repo_plan.repo / folder, folder, source, commit, target))
    return jobs


def update_fleet(
    plans: list[RepoPlan],
    *,
    to: str | None = None,
    dry_run: bool = False,
    jobs: int | None = 1,
    progress: Callable[[UpdateResult], None] | None = None,
    allow_sources: Sequence[str] = (),
    fast: bool = True,
) -> list[UpdateResult]:
    """Update every planned copy; results in plan order, `progress` called as each lands.

    `allow_sources` are template sources the user allowed for this run (`--allow-source`).
    `fast` updates in process where that gives what `copier update` gives (see
    `generator.fast_update`), repositories one after another while `jobs` processes render;
    otherwise each copy runs `copier update`, `jobs` repositories at a time. `jobs` None
    chooses: `render_processes` for the fast path, `default_jobs()` repositories otherwise.
    """

    def report(results: list[UpdateResult]) -> list[UpdateResult]:
        if progress is not None:
            for result in results:
                progress(result)
        return results

    if fast:
        off = copier_version_proven()
        render_jobs = [] if off else _render_jobs(plans, to)
        renders = RenderPool(render_jobs, render_processes(len(render_jobs), jobs))
        try:
            engine = _Fast(renders, off)
            return [
                r
                for p in plans
                for r in report(_update_repo_locked(p, to, dry_run, allow_sources, engine))
            ]
        finally:
            renders.close()

    jobs = default_jobs() if jobs is None else jobs
    if jobs <= 1 or len(plans) == 1:
        return [
            r for p in plans for r in report(_update_repo_locked(p, to, dry_run, allow_sources))
        ]
    done: dict[int, list[UpdateResult]] = {}
    with WorkerPool(
        max_workers=min(jobs, len(plans)),
        initializer=start_worker,
        initargs=(os.getpid(),),
    ) as pool:
        futures = {
            pool.submit(_update_repo_locked, p, to, dry_run, allow_sources): i
            for i, p in enumerate(plans)
        }
        for future in as_completed(futures):
            index = futures[future]
            try:
                done[index] = report(future.result())
            except Exception as error:  # a crashed worker process
                failed = list(plans[index].damaged) + [
                    UpdateResult(shown, "failed", commit, reason=f"worker crashed: {error}")
                    for shown, commit in zip(plans[index].shown, plans[index].commits, strict=True)
                ]
                done[index] = report(failed)
    return [r for i in range(len(plans)) for r in done[i]]
