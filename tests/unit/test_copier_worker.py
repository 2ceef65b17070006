"""The in-process Copier worker's shortcuts give what Copier itself gives.

The answer maps here are Copier's own; each shortcut is compared with what Copier does
without it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
from copier._user_data import AnswersMap
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import pass_context

from generator.copier_run import worker as copier_worker
from generator.copier_run.render import TemplateRenderer
from generator.copier_run.worker import capturing_worker_class
from generator.stamped import StampedCopy
from tests.helpers import commit_all, git

LAYER = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "now", "_external_data"]), st.integers()
)


@given(user=LAYER, init=LAYER, metadata=LAYER, last=LAYER, user_defaults=LAYER)
def test_answers_combine_as_copier_combines_them(**layers: dict[str, int]) -> None:
    fast = copier_worker._fast_answers_class()
    assert fast is not None
    copier_own = AnswersMap(**layers)  # type: ignore[arg-type]
    ours = AnswersMap(**layers)  # type: ignore[arg-type]
    ours.__class__ = fast
    assert list(ours.combined.items()) == list(copier_own.combined.items())


@pytest.fixture
def copier_combining_otherwise(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A Copier whose answers map lets the lowest layer win (no release does this)."""

    def lowest_wins(self: AnswersMap) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for layer in (self.user, self.init, self.metadata, self.last, self.user_defaults):
            merged.update(layer)
        return merged

    copier_worker._fast_answers_class.cache_clear()
    copier_worker.capturing_worker_class.cache_clear()
    monkeypatch.setattr(AnswersMap, "combined", property(lowest_wins))
    yield
    copier_worker._fast_answers_class.cache_clear()
    copier_worker.capturing_worker_class.cache_clear()


@pytest.mark.usefixtures("copier_combining_otherwise")
def test_a_copier_that_combines_answers_otherwise_keeps_its_own_way(tmp_path: Path) -> None:
    assert copier_worker._fast_answers_class() is None
    template = tmp_path / "template"
    template.mkdir()
    (template / "copier.yml").write_text("kind: {type: str}\n")
    worker = capturing_worker_class()(src_path=str(template), dst_path=tmp_path / "out")
    worker.answers = AnswersMap(user={"kind": "app"}, user_defaults={"kind": "infra"})
    assert type(worker.answers) is AnswersMap
    assert worker.answers.combined["kind"] == "infra"


# A question's text that reads the answers to remember, as Copier puts them in its context.
READS = {
    "nothing": "{{ a }}-b",
    "the template source": "{{ _copier_answers._src_path | length }}",
    "the version, as an item": "{{ _copier_answers['_commit'] }}",
    "an answer": "{{ _copier_answers.a }}",
    "an answer, as an item": "{{ _copier_answers['a'] }}",
    "all of them": "{{ _copier_answers | length }}",
    "an included file": "{% include 'part.jinja' %}",
}


def _stamped(tmp_path: Path, default: str, *, when: str = "true") -> StampedCopy:
    """A copy of a one-file template whose questions `b` and `c` default to `default`."""
    template = tmp_path / "template"
    template.mkdir(parents=True)
    (template / "copier.yml").write_text(
        "a: {type: str}\n"
        f"b:\n  type: str\n  default: {json.dumps(default)}\n  when: {json.dumps(when)}\n"
        f"c:\n  type: str\n  default: {json.dumps(default)}\n"
    )
    (template / "part.jinja").write_text("{{ _copier_answers.a }}")
    (template / "out.txt.jinja").write_text("b={{ b }} c={{ c }}\n")
    (template / "{{ _copier_conf.answers_file }}.jinja").write_text(
        "{{ _copier_answers | to_nice_yaml }}"
    )
    git("init", "-q", "-b", "main", cwd=template)
    commit_all(template, "template")
    git("tag", "v1.0.0", cwd=template)
    answers = {"_src_path": str(template), "_commit": "v1.0.0", "a": "x"}
    return StampedCopy(tmp_path / "copy", ".copier-answers.yml", answers)


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
@pytest.mark.parametrize("when", ["true", "{{ _copier_answers.a == 'x' }}"])
def test_what_a_question_reads_of_the_answers_to_remember_is_what_copier_gives(
    tmp_path: Path, read: str, when: str
) -> None:
    copy = _stamped(tmp_path, read, when=when)
    with TemplateRenderer("fast") as fast, TemplateRenderer("copier") as reference:
        assert fast.engine == "fast"
        assert fast.render(copy) == reference.render(copy)


def test_the_answers_are_kept_whole_while_asking_only_where_a_question_reads_them(
    tmp_path: Path,
) -> None:
    for name, read in READS.items():
        copy = _stamped(tmp_path / name, read)
        worker = capturing_worker_class()(src_path=copy.src_path, dst_path=tmp_path / "out")
        template = worker.template
        settings = (template.questions_data, template.config_data)
        reads_more = name not in ("nothing", "the template source", "the version, as an item")
        assert copier_worker.asking_may_read_answers(worker.jinja_env, *settings) is reads_more
        template._cleanup()


def test_a_user_default_or_a_global_taking_the_context_keeps_them_whole(tmp_path: Path) -> None:
    copy = _stamped(tmp_path, READS["nothing"])
    worker = capturing_worker_class()(src_path=copy.src_path, dst_path=tmp_path / "out")
    env, template = worker.jinja_env, worker.template
    assert not copier_worker.asking_may_read_answers(env, template.questions_data)
    assert copier_worker.asking_may_read_answers(env, {"b": READS["an answer"]})
    env.globals["peek"] = pass_context(lambda context: context.get("_copier_answers"))
    assert copier_worker.asking_may_read_answers(env, template.questions_data)
    template._cleanup()


def test_a_user_default_that_reads_an_answer_renders_as_copier_renders_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copier renders the user's own defaults (its settings file) in the same context."""
    settings = tmp_path / "settings.yml"
    settings.write_text(f"defaults:\n  c: {json.dumps(READS['an answer'])}\n")
    monkeypatch.setenv("COPIER_SETTINGS_PATH", str(settings))
    copy = _stamped(tmp_path, READS["nothing"])
    with TemplateRenderer("fast") as fast, TemplateRenderer("copier") as reference:
        expected = reference.render(copy)
        assert b"c=x" in expected["out.txt"]
        assert fast.render(copy) == expected


def test_the_texts_of_a_template_version_are_read_once_per_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run gets a Jinja environment of its own; one configured like an earlier one
    parses no question again, and one with a filter that now takes the context does."""
    copy = _stamped(tmp_path, "{{ a | lower }}-b")
    parsed: list[str] = []
    real_parse = jinja2.Environment.parse

    def counting(self: jinja2.Environment, source: str, *args: Any) -> Any:
        parsed.append(source)
        return real_parse(self, source, *args)

    monkeypatch.setattr(jinja2.Environment, "parse", counting)
    found: list[tuple[bool, int]] = []
    for filter_takes_context in (False, False, True, True):
        worker = capturing_worker_class()(src_path=copy.src_path, dst_path=tmp_path / "out")
        env, template = worker.jinja_env, worker.template
        if filter_takes_context:
            env.filters["lower"] = pass_context(lambda context, value: str(value).lower())
        before = len(parsed)
        reads = copier_worker.asking_may_read_answers(env, template.questions_data)
        found.append((reads, len(parsed) - before))
        template._cleanup()
    assert [reads for reads, _ in found] == [False, False, True, True]
    assert [count > 0 for _, count in found] == [True, False, True, False]
