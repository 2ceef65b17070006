"""Render a stamped copy at its recorded template version with its recorded answers, in process.

Copier itself does the rendering: its own worker asks the questionnaire (with the recorded
answers as `--data` and `--defaults` for the rest), renders paths and files, applies the
template's exclusions and writes the answers file, so the output is what `copier copy` would
produce. What makes it cheap is sharing and not writing:

- one checkout of each template version (`_src_path` + `_commit`) serves every copy that
  recorded it, and so does one Jinja environment with its compiled templates;
- the worker hands each rendered file over instead of writing it, and tasks never run.

`engine="copier"` renders with the public `copier.run_copy` into a temporary folder instead
(one clone per copy, slow). The tests prove that both engines produce the same bytes; the
copier engine is also used when the installed Copier lacks the internals the fast one uses.
The fast engine is proven against the Copier range pinned in `pyproject.toml`.

Example::

    with TemplateRenderer() as renderer:
        files = renderer.render(copy)   # {"deployment.yaml": b"...", ...}
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePath
from types import TracebackType
from typing import Any, Literal

from generator.copier_run.caches import caches_on
from generator.copier_run.shared_env import share_compiled_strings
from generator.copier_run.worker import capturing_worker_class
from generator.errors import OnboardError
from generator.stamped import StampedCopy

__all__ = ["Engine", "RenderError", "RenderedFiles", "TemplateRenderer", "fast_engine_available"]

Engine = Literal["fast", "copier"]
# Relative POSIX path -> file bytes, or the target of a symlink.
RenderedFiles = dict[str, bytes | PurePath]


class RenderError(OnboardError):
    """The recorded template version could not be fetched or rendered with these answers."""


def fast_engine_available() -> bool:
    """True when the installed Copier has the worker internals the fast engine relies on."""
    try:
        from copier._jinja_ext import get_yield_context  # noqa: F401
        from copier._main import Worker, _operation  # noqa: F401
        from copier._types import Phase  # noqa: F401
    except ImportError:
        return False
    needed = ("_ask", "_render_template", "_render_allowed", "_answers_to_remember")
    return all(callable(getattr(Worker, name, None)) for name in needed) and all(
        hasattr(Worker, name) for name in ("jinja_env", "template", "subproject")
    )


def _copier_message(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@dataclass
class _Version:
    """One template version: its checkout (a Copier `Template`) and shared Jinja env."""

    template: Any
    env: Any = None


class TemplateRenderer:
    """Renders stamped copies, sharing one checkout per template version."""

    def __init__(self, engine: Engine = "fast") -> None:
        if engine == "fast" and not fast_engine_available():
            engine = "copier"
        self.engine: Engine = engine
        self._versions: dict[tuple[str, str], _Version | RenderError] = {}
        self._worker_class: Any = None
        self._settings: Any = None

    def __enter__(self) -> TemplateRenderer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove every template checkout."""
        for version in self._versions.values():
            if isinstance(version, _Version):
                version.template._cleanup()
        self._versions.clear()

    def render(self, copy: StampedCopy) -> RenderedFiles:
        """The files the template produces for `copy`, keyed by path relative to its folder."""
        if self.engine == "copier":
            return _render_with_run_copy(copy)
        return self._render_fast(copy)

    def _version(self, copy: StampedCopy) -> _Version:
        key = (copy.src_path, copy.commit)
        known = self._versions.get(key)
        if known is None:
            from copier._template import Template

            caches_on()
            template = Template(url=copy.src_path, ref=copy.commit or None)
            try:
                template.local_abspath  # noqa: B018 - clones the version now
                template.questions_data  # noqa: B018
                known = _Version(template)
            except Exception as error:
                template._cleanup()
                known = RenderError(
                    f"cannot fetch template {copy.src_path} at {copy.commit or 'its latest tag'}"
                    f": {_copier_message(error)}"
                )
            self._versions[key] = known
        if isinstance(known, RenderError):
            raise known
        return known

    def _render_fast(self, copy: StampedCopy) -> RenderedFiles:
        from copier._main import _operation
        from copier._settings import SettingsModel
        from copier._types import Phase

        version = self._version(copy)
        if self._worker_class is None:
            self._worker_class = capturing_worker_class()
            self._settings = SettingsModel.from_file()
        worker = self._worker_class(
            src_path=copy.src_path,
            vcs_ref=copy.commit or None,
            dst_path=copy.folder,
            answers_file=Path(copy.answers_file),
            data=copy.data,
            settings=self._settings,
            defaults=True,
            quiet=True,
            unsafe=True,
            skip_tasks=True,
            pretend=True,
        )
        worker.__dict__["template"] = version.template
        # As in a fresh `copier copy`: no earlier answers in the destination.
        worker.subproject.__dict__["last_answers"] = {}
        worker.__dict__["_gitops_recorded"] = {
            key: copy.answers[key] for key in ("_commit", "_src_path") if key in copy.answers
        }
        if version.env is None:
            version.env = worker.jinja_env
            share_compiled_strings(version.env)
        else:
            worker.__dict__["jinja_env"] = version.env
        token = _operation.set("copy")
        try:
            with Phase.use(Phase.PROMPT):
                worker._ask()
            with Phase.use(Phase.RENDER):
                worker._render_template()
        except OnboardError:
            raise
        except Exception as error:
            raise RenderError(f"copier cannot render it: {_copier_message(error)}") from error
        finally:
            _operation.reset(token)
        files: RenderedFiles = worker.__dict__.get("_gitops_files", {})
        return files


def _render_with_run_copy(copy: StampedCopy) -> RenderedFiles:
    """The reference: `copier copy --defaults --data ... --skip-tasks` into a temp folder."""
    from copier import run_copy

    with tempfile.TemporaryDirectory(prefix="gitops-onboard-render-") as tmp:
        destination = Path(tmp) / copy.folder.name
        try:
            run_copy(
                copy.src_path,
                destination,
                data=copy.data,
                vcs_ref=copy.commit or None,
                answers_file=copy.answers_file,
                defaults=True,
                unsafe=True,
                quiet=True,
                skip_tasks=True,
            )
        except Exception as error:
            raise RenderError(f"copier cannot render it: {_copier_message(error)}") from error
        files: RenderedFiles = {}
        for folder, _dirs, names in os.walk(destination):
            for name in names:
                path = Path(folder) / name
                relative = path.relative_to(destination).as_posix()
                files[relative] = path.readlink() if path.is_symlink() else path.read_bytes()
        return files
