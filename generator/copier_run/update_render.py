"""The two renders `copier update` makes of a copy, made in process: old version and new.

`copier update` renders the recorded version with the recorded answers into a scratch
folder, renders the target version with the answers it settles (recorded ones kept, new
questions at their defaults) into the destination and into a second scratch folder, then
merges. Here Copier's own worker does both renders exactly as it does inside
`copier update` (same operation context, same exclusions: the old render also leaves out
what the new version excludes), but hands each file over instead of writing it, and one
checkout of each template version serves every copy (`UpdateRenderer` keeps them).

A render that Copier could not make the same way in process says why in
`UpdateRenders.fallback` (a release with `_migrations` between the versions, a task other
than the template's own, a symlink or executable file in the template, a render error), and
the caller runs real `copier update` for that copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from generator.answers import ANSWERS_FILE
from generator.copier_run.caches import caches_on
from generator.copier_run.migration import overlays_pending
from generator.copier_run.render import _copier_message
from generator.copier_run.shared_env import share_compiled_strings
from generator.copier_run.worker import capturing_worker_class

__all__ = [
    "PROVEN_COPIER",
    "UpdateRenderer",
    "UpdateRenders",
    "copier_version_proven",
]

# The Copier releases whose `copier update` the fast path is proven equal to (tests/story/
# test_update_equivalence.py); any other version updates through Copier itself.
PROVEN_COPIER = ((9, 19), (10, 0))

# The template's task as copier.yml declares it (and as released templates declared it).
_ANSWERS_ARG = "{{ _copier_conf.answers_file }}"
_TASKS = (
    ["{{ _copier_python }}", "-m", "generator", "_task", "{{ kind }}", _ANSWERS_ARG],
    ["{{ _copier_python }}", "-m", "generator.tasks", "{{ kind }}", _ANSWERS_ARG],
)
# Its conditions: always (the first releases), or everywhere but Copier's scratch renders of
# an update, where it would do nothing (the fast path runs it in the destination only).
_TASK_CONDITIONS = (True, "true", "{{ not (_copier_conf.dst_path | copier_scratch_render) }}")
# The template's own migration (copier.yml): it moves a service on several clusters to
# per-cluster overlays and does nothing for any other copy.
_OVERLAYS_MIGRATION = [
    "{{ _copier_python }}",
    "-m",
    "generator",
    "_migrate",
    "overlays",
    _ANSWERS_ARG,
    "--clusters",
    "{{ _copier_conf.data.get('clusters', '') }}",
]


def copier_version_proven() -> str | None:
    """None when the installed Copier is in the proven range, else why not."""
    from importlib.metadata import version

    from copier._main import Worker

    installed = version("copier")
    parts = tuple(int(p) for p in installed.split(".")[:2] if p.isdigit())
    low, high = PROVEN_COPIER
    if not (low <= parts < high):
        return f"Copier {installed} is outside the range the fast update is proven for"
    needed = ("_ask", "_render_template", "_render_allowed", "match_skip", "answers_relpath")
    if not all(hasattr(Worker, name) for name in needed):
        return f"Copier {installed} lacks the internals the fast update uses"
    return None


@dataclass
class UpdateRenders:
    """What `copier update` of one copy renders; paths relative to the copy's folder.

    `skip` holds the rendered paths and repo-relative paths that match `_skip_if_exists`
    (Copier matches both kinds); `answers_file` is the answers file's path, its new text is
    `new[answers_file]`; `kind` the answer naming the task to run.
    """

    old: dict[str, bytes] = field(default_factory=dict)
    new: dict[str, bytes] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()
    answers_file: str = ""
    kind: str = ""
    fallback: str = ""


@dataclass
class _Version:
    template: Any
    env: Any = None


class UpdateRenderer:
    """Renders copies as `copier update` would, one checkout per template version."""

    def __init__(self) -> None:
        self._versions: dict[tuple[str, str], _Version] = {}
        self._worker_class: Any = None
        self._settings: Any = None

    def close(self) -> None:
        """Remove every template checkout."""
        for version in self._versions.values():
            version.template._cleanup()
        self._versions.clear()

    def _version(self, src: str, ref: str) -> _Version:
        key = (src, ref)
        if key not in self._versions:
            from copier._template import Template

            caches_on()
            template = Template(url=src, ref=ref)
            try:
                template.local_abspath  # noqa: B018 - clones the version now
                template.questions_data  # noqa: B018
            except Exception:
                template._cleanup()
                raise
            self._versions[key] = _Version(template)
        return self._versions[key]

    def _worker(self, version: _Version, **kwargs: Any) -> Any:
        from copier._settings import SettingsModel

        if self._worker_class is None:
            self._worker_class = capturing_worker_class()
            self._settings = SettingsModel.from_file()
        worker = self._worker_class(
            settings=self._settings, defaults=True, quiet=True, unsafe=True, **kwargs
        )
        worker.__dict__["template"] = version.template
        if version.env is None:
            version.env = worker.jinja_env
            share_compiled_strings(version.env)
        else:
            worker.__dict__["jinja_env"] = version.env
        return worker

    def render(
        self, folder: Path, subdir: str, src: str, commit: str, target: str
    ) -> UpdateRenders:
        """The old and new renders of the copy in `folder` (`subdir` of its git repo)."""
        try:
            return self._render(folder, subdir, src, commit, target)
        except Exception as error:  # whatever Copier raises, Copier itself reports it
            return UpdateRenders(fallback=f"cannot render in process: {_copier_message(error)}")

    def _render(
        self, folder: Path, subdir: str, src: str, commit: str, target: str
    ) -> UpdateRenders:
        from copier._main import _operation
        from copier._types import Phase

        old_version = self._version(src, commit)
        new_version = self._version(src, target)
        reason = _unsupported(old_version.template, new_version.template, folder)
        if reason:
            return UpdateRenders(fallback=reason)
        token = _operation.set("update")
        try:
            # What Copier's update worker settles and renders into the destination.
            current = self._worker(
                new_version,
                dst_path=folder,
                vcs_ref=target,
                skip_answered=True,
                overwrite=True,
            )
            with Phase.use(Phase.PROMPT):
                current._ask()
            with Phase.use(Phase.RENDER):
                current._render_template()
            last = dict(current.subproject.last_answers)
            # The recorded version, rendered with the recorded answers into an empty folder.
            old = self._worker(
                old_version,
                dst_path=folder,
                vcs_ref=commit,
                data=last,
                exclude=list(new_version.template.exclude),
                skip_answered=True,
                overwrite=True,
            )
            old.subproject.__dict__["last_answers"] = {}
            with Phase.use(Phase.PROMPT):
                old._ask()
            with Phase.use(Phase.RENDER):
                old._render_template()
            renders = UpdateRenders(
                answers_file=current.answers_relpath.as_posix(),
                kind=str(current.answers.combined.get("kind", "")),
            )
            for worker, files in ((old, renders.old), (current, renders.new)):
                modes = worker.__dict__.get("_gitops_modes", {})
                for path, contents in worker.__dict__.get("_gitops_files", {}).items():
                    if isinstance(contents, PurePath):
                        return UpdateRenders(fallback=f"the template renders a symlink ({path})")
                    mode = modes.get(path)
                    if mode is not None and mode & 0o111:
                        return UpdateRenders(fallback=f"the template renders an executable {path}")
                    files[path] = contents
                    if worker is current and mode is not None:
                        renders.modes[path] = mode & 0o7777
            prefix = "" if subdir == "." else subdir.rstrip("/") + "/"
            skip = set()
            for path in set(renders.old) | set(renders.new):
                if current.match_skip(Path(path)):
                    skip.add(path)
                if current.match_skip(Path(prefix + path)):
                    skip.add(prefix + path)
            renders.skip = frozenset(skip)
            return renders
        finally:
            _operation.reset(token)


def _unsupported(old: Any, new: Any, folder: Path) -> str:
    """Why `copier update` from `old` to `new` cannot be done in process ('' when it can).

    The template's own overlays migration is no reason when it would change nothing in
    `folder` (every copy but a service on several clusters that is not yet on overlays).
    """
    for stage in ("before", "after"):
        for task in new.migration_tasks(stage, old):
            if task.cmd == _OVERLAYS_MIGRATION and not overlays_pending(folder, ANSWERS_FILE):
                continue
            return f"the update runs the template's migrations ({old.version} -> {new.version})"
    tasks = new.tasks
    if len(tasks) > 1 or any(not _known_task(task) for task in tasks):
        return "the template runs tasks other than its own"
    return ""


def _known_task(task: Any) -> bool:
    cmd = task.cmd
    if not isinstance(cmd, list) or task.condition not in _TASK_CONDITIONS:
        return False
    if str(task.working_directory) != ".":
        return False
    return any(cmd == known for known in _TASKS)
