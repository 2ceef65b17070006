"""Merge a copy's two renders with the copy on disk exactly as `copier update` does.

`copier update` writes the new render over the destination (a `_skip_if_exists` file that
exists stays), runs the template's task, deletes again what the user had deleted, then
replays the user's changes (the git diff from the old render to the copy) with
`git apply --reject`, and for a file with a rejected hunk restores the user's version and
merges it with `git merge-file` (labels `before updating`, `last update`, `after
updating`), recording the conflict in the index as stages 1, 2 and 3. Last it removes what
the old render had and the new one has not. Per file that comes to:

====================  ==================  ==============================================
old render            copy                result
====================  ==================  ==============================================
absent                absent              new render
absent                has it              kept; merged with the new render if it has one
has it                absent              absent (recreated if it matches skip rules)
has it                same as old         new render (absent if the new has none)
has it                edited              edited, with the new render's change replayed
====================  ==================  ==============================================

`plan_merge` works that out from bytes (pure), calling `merge_three` — git itself, on
scratch files — only for a file both the user and the release changed.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from generator.copier_run.update_render import UpdateRenders
from generator.errors import ToolError
from generator.runner import run

__all__ = [
    "CONFLICT_LABELS",
    "MergePlan",
    "Unsupported",
    "blob_sha",
    "merge_three",
    "plan_merge",
]

CONFLICT_LABELS = ("before updating", "last update", "after updating")
_COPIER_MARKERS = {b"<<<<<<< before updating", b">>>>>>> after updating"}
_CONTEXT_LINES = 3
# Options that make `git diff --no-index` produce the hunks `git diff-tree` (what Copier
# runs) produces, whatever the user's diff settings.
_DIFF_CONFIG = (
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
    "-c",
    "diff.suppressBlankEmpty=false",
    "-c",
    "diff.relative=false",
    "-c",
    "core.quotePath=true",
)


class Unsupported(Exception):
    """The copy is in a state the in-process update does not reproduce; Copier must run."""


def blob_sha(data: bytes) -> str:
    """The git object id of a blob holding `data`."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class MergePlan:
    """One copy's update, as paths relative to its folder.

    `rendered` are written before the task runs (the new render over the copy), then
    `removed` are deleted and `final` written; `conflicts` map a file left with conflict
    markers to its old and new render (stages 1 and 3 of the index; None when absent).
    """

    rendered: dict[str, bytes] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    final: dict[str, bytes] = field(default_factory=dict)
    conflicts: dict[str, tuple[bytes | None, bytes | None]] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)


def plan_merge(
    renders: UpdateRenders,
    copy: Mapping[str, bytes],
    *,
    prefix: str,
    repo: Path,
) -> MergePlan:
    """How `copier update` changes a copy whose tracked files are `copy` (folder-relative).

    `copy` holds every file of the copy at a path either render has (what git has for it);
    `prefix` is the copy's folder relative to its repository (`""` or `"apps/web/"`).
    """
    plan = MergePlan()
    answers = renders.answers_file
    old, new, skip = renders.old, renders.new, renders.skip
    for path, text in new.items():
        if path == answers or not (path in copy and path in skip):
            plan.rendered[path] = text
    removed_by_user = {path for path in old if path not in copy and prefix + path not in skip}
    for path in sorted(set(old) | set(new)):
        if path == answers:
            continue
        o, n, u = old.get(path), new.get(path), copy.get(path)
        if path in removed_by_user:
            plan.removed.append(path)
            continue
        if o is not None and n is None:
            # Gone from the release: Copier deletes it whatever the user made of it.
            if u is not None or path in plan.rendered:
                plan.removed.append(path)
            continue
        if u is None or path in skip:
            continue  # the new render (or the user's skip-if-exists file) stands
        base = b"" if o is None else o
        if u == base:
            continue
        if n == base:
            plan.final[path] = u
            continue
        assert n is not None
        merged, conflicted = merge_three(base, u, n, repo=repo)
        plan.final[path] = merged
        if conflicted:
            plan.conflicts[path] = (base, n)
    plan.dirs = sorted(
        {str(Path(path).parent) for path in old if str(Path(path).parent) != "."},
        key=lambda d: (-len(Path(d).parts), d),
    )
    return plan


@functools.lru_cache(maxsize=64)
def _git_dir(repo: Path) -> str:
    return run(["git", "rev-parse", "--absolute-git-dir"], cwd=repo).stdout.strip()


def _has_copier_markers(data: bytes) -> bool:
    return any(line.rstrip() in _COPIER_MARKERS for line in data.splitlines())


def merge_three(old: bytes, user: bytes, new: bytes, *, repo: Path) -> tuple[bytes, bool]:
    """The user's change from `old` to `user` replayed onto `new`, as `copier update` does.

    First `git apply --reject` of the diff (3 lines of context, hunks never joined), as
    Copier applies it; if a hunk is rejected, `git merge-file` of the three with Copier's
    labels. Returns the result and whether it holds conflict markers. `repo` is the
    repository of the copy, whose git settings Copier's apply and merge see.
    """
    for data in (old, user, new):
        if b"\0" in data:
            raise Unsupported("a binary file changed both in the copy and in the release")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise Unsupported(
                "a file that is not UTF-8 changed in the copy and the release"
            ) from None
    git_dir = _git_dir(repo)
    with tempfile.TemporaryDirectory(prefix="gitops-onboard-merge-") as tmp:
        scratch = Path(tmp)
        for name, data in (("old", old), ("user", user), ("new", new), ("base", new)):
            (scratch / name).mkdir()
            (scratch / name / "f").write_bytes(data)
        diff = run(
            [
                "git",
                *_DIFF_CONFIG,
                "diff",
                "--no-index",
                "--no-color",
                "--no-ext-diff",
                "--no-textconv",
                "--diff-algorithm=myers",
                "--indent-heuristic",
                f"--unified={_CONTEXT_LINES}",
                "--inter-hunk-context=-1",
                "--src-prefix=a/",
                "--dst-prefix=b/",
                "--",
                "old/f",
                "user/f",
            ],
            cwd=scratch,
            ok_codes=(0, 1),
        ).stdout
        env = {**os.environ, "GIT_DIR": git_dir, "GIT_WORK_TREE": str(scratch / "new")}
        try:
            run(
                ["git", "apply", "--reject", "-p2"],
                stdin=diff,
                cwd=scratch / "new",
                env=env,
                ok_codes=(0, 1),
            )
        except ToolError as error:
            raise Unsupported(f"git apply failed: {error}") from None
        if not (scratch / "new" / "f.rej").exists():
            return (scratch / "new" / "f").read_bytes(), False
        current = scratch / "user" / "f"
        try:
            run(
                [
                    "git",
                    "merge-file",
                    "-L",
                    CONFLICT_LABELS[0],
                    "-L",
                    CONFLICT_LABELS[1],
                    "-L",
                    CONFLICT_LABELS[2],
                    "--",
                    str(current),
                    str(scratch / "old" / "f"),
                    str(scratch / "base" / "f"),
                ],
                cwd=repo,
                ok_codes=tuple(range(0, 128)),
            )
        except ToolError as error:
            raise Unsupported(f"git merge-file failed: {error}") from None
        merged = current.read_bytes()
        return merged, _has_copier_markers(merged)
