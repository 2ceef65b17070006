"""The Copier worker that `check` and the fast `update` render with.

Both render a copy in process with Copier's own `Worker`: it asks the questionnaire and
renders every file exactly as `copier copy` or `copier update` would, but this subclass
records each file (bytes, or the target of a symlink) and its mode instead of writing it.
What it changes is only how much work the same result costs:

- the answers Copier remembers are computed once while files render (they cannot change
  then), instead of once per file and path;
- the questionnaire's answers are combined with dict updates instead of through a
  `ChainMap` (Copier combines them for every question), after proving at start-up that both
  give the same keys, order and values;
- while the questions are asked, Copier puts the answers to remember (`_copier_answers`) in
  the context of every question. When no text a question renders can read more of them than
  `_commit` and `_src_path`, which no answer changes (`asking_may_read_answers`, proven
  once per process for a version's texts and an environment configured alike), they are
  computed once per copy and every question gets only those two.

The Jinja environment it renders with is shared per template version
(`generator.copier_run.shared_env`).

Copier's internals used here are proven against the range pinned in `pyproject.toml`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path, PurePath
from typing import Any

from jinja2 import nodes

from generator.copier_run.compile_cache import configuration_number
from generator.copier_run.lru import Lru
from generator.copier_run.shared_env import names_read, takes_context

__all__ = ["asking_may_read_answers", "capturing_worker_class"]

_REMEMBERED = "_copier_answers"
_FIXED = frozenset({"_commit", "_src_path"})  # from the template and the answers file
_ASKING_READS = "_gitops_asking_reads_answers"  # kept on the worker and on the template
# What the texts of a template version read, by the configuration of the environment that
# parses them (each run has an environment of its own): at most _MAX_PROVEN, oldest out first.
_proven: Lru[tuple[int, tuple[str, ...]], bool] = Lru()
_MAX_PROVEN = 64


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _texts(item)


def _reads_only_fixed(env: Any, text: str) -> bool:
    """True when `text` reads `_copier_answers` only as `._commit` or `._src_path`."""
    tree = env.parse(text)
    reads = [node for node in tree.find_all(nodes.Name) if node.name == _REMEMBERED]
    fixed = 0
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        inner = node.node
        if not (isinstance(inner, nodes.Name) and inner.name == _REMEMBERED):
            continue
        key: object = None
        if isinstance(node, nodes.Getattr):
            key = node.attr
        elif isinstance(node.arg, nodes.Const):
            key = node.arg.value
        if key in _FIXED and inner.ctx == "load":
            fixed += 1
    return fixed == len(reads)


def asking_may_read_answers(env: Any, *settings: Any) -> bool:
    """Whether a text in `settings` may read answers to remember other than the fixed two.

    `settings` are the questions, the template's settings and the user's; `env` is the Jinja
    environment Copier renders them with; the fixed two are `_commit` and `_src_path`.
    False only when every text is proven to read its context by name alone, each read of
    `_copier_answers` is `._commit` or `._src_path`, and no global of `env` takes the context
    (a filter or test that does is refused by `names_read`).
    """
    if any(takes_context(value) for value in env.globals.values()):
        return True
    texts = tuple(_texts(settings))
    key = (configuration_number(env), texts)
    known = _proven.get(key)
    if known is not None:
        return known
    reads = _texts_may_read_answers(env, texts)
    _proven.put(key, reads, _MAX_PROVEN)
    return reads


def _texts_may_read_answers(env: Any, texts: tuple[str, ...]) -> bool:
    for text in texts:
        if names_read(env, text) is None:
            return True
        if _REMEMBERED in text and not _reads_only_fixed(env, text):
            return True
    return False


def _combined(answers: Any, default_data: Mapping[str, Any]) -> dict[str, Any]:
    # A ChainMap lists keys from its last map to its first, and the first map holding a key
    # gives its value: updating a dict from the last map to the first gives the same dict.
    merged = dict(default_data)
    merged["_external_data"] = answers.external
    for layer in (answers.user_defaults, answers.last, answers.metadata, answers.init):
        merged.update(layer)
    merged.update(answers.user)
    return merged


@cache
def _fast_answers_class() -> type | None:
    """A Copier `AnswersMap` whose `combined` skips the ChainMap, or None if it would differ."""
    from copier._user_data import DEFAULT_DATA, AnswersMap

    class CombinedOnce(AnswersMap):
        @property
        def combined(self) -> Mapping[str, Any]:
            return _combined(self, DEFAULT_DATA)

    # Each layer holds its own key and the keys of every layer above it; the lowest also
    # holds the keys of the two fixed layers below it (external data, Copier's defaults). The
    # order of the keys and the layer that wins both show: Copier's property must agree, or
    # its version combines answers some other way and is left alone.
    layers = ("user", "init", "metadata", "last", "user_defaults")
    probe = AnswersMap()
    for at, name in enumerate(layers):
        getattr(probe, name).update({f"{upper}_key": name for upper in layers[: at + 1]})
    probe.user_defaults.update({"_external_data": "user_defaults", "now": "user_defaults"})
    if list(probe.combined.items()) != list(_combined(probe, DEFAULT_DATA).items()):
        return None
    return CombinedOnce


@cache
def capturing_worker_class() -> Any:
    """Copier's `Worker`, recording rendered files instead of writing them.

    After rendering, `worker.__dict__["_gitops_files"]` maps each file's POSIX path (relative
    to the destination) to its bytes, or to a `PurePath` for a symlink's target, and
    `_gitops_modes` maps it to its mode. `_gitops_recorded` (optional, set before asking) holds
    answers the answers file keeps as recorded, such as `_commit` and `_src_path`.
    """
    from copier._main import Worker
    from copier._types import Phase
    from copier._user_data import AnswersMap

    fast_answers = _fast_answers_class()

    class CapturingWorker(Worker):
        def __setattr__(self, name: str, value: Any) -> None:
            if name == "answers" and fast_answers is not None and type(value) is AnswersMap:
                value.__class__ = fast_answers
            super().__setattr__(name, value)

        def _render_allowed(
            self,
            dst_relpath: Path,
            is_dir: bool = False,
            is_symlink: bool = False,
            expected_contents: bytes | Path = b"",
            expected_mode: int | None = None,
        ) -> bool:
            if not is_dir:
                files = self.__dict__.setdefault("_gitops_files", {})
                key = dst_relpath.as_posix()
                if isinstance(expected_contents, Path):
                    files[key] = PurePath(expected_contents)
                elif is_symlink:
                    files[key] = PurePath(expected_contents.decode("utf-8", "replace"))
                else:
                    files[key] = bytes(expected_contents)
                self.__dict__.setdefault("_gitops_modes", {})[key] = expected_mode
            return False

        def _answers_to_remember(self) -> dict[str, Any]:
            if Phase.current() == Phase.PROMPT and not self._asking_reads_answers():
                fixed = self.__dict__.get("_gitops_fixed")
                if fixed is None:
                    every = self._remembered()
                    fixed = {key: value for key, value in every.items() if key in _FIXED}
                    self.__dict__["_gitops_fixed"] = fixed
                return dict(fixed)
            # Answers cannot change while files render, so compute them once then.
            rendering = Phase.current() == Phase.RENDER
            if rendering and "_gitops_remember" in self.__dict__:
                return dict(self.__dict__["_gitops_remember"])
            answers = self._remembered()
            if rendering:
                self.__dict__["_gitops_remember"] = answers
            return answers

        def _remembered(self) -> dict[str, Any]:
            answers = dict(super()._answers_to_remember())
            answers.update(self.__dict__.get("_gitops_recorded", {}))
            return answers

        def _asking_reads_answers(self) -> bool:
            reads = self.__dict__.get(_ASKING_READS)
            if reads is None:
                template = self.template
                by_template = template.__dict__.get(_ASKING_READS)
                if by_template is None:
                    by_template = asking_may_read_answers(
                        self.jinja_env, template.questions_data, template.config_data
                    )
                    template.__dict__[_ASKING_READS] = by_template
                defaults = self.settings.defaults
                reads = by_template or (
                    bool(defaults) and asking_may_read_answers(self.jinja_env, defaults)
                )
                self.__dict__[_ASKING_READS] = reads
            return bool(reads)

    return CapturingWorker
