"""The in-process Copier worker's shortcuts give what Copier itself gives.

The environments and answer maps here are Copier's own, built from a real template folder;
each shortcut is compared with what Copier and Jinja do without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from copier._main import Worker
from copier._user_data import AnswersMap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.copier_run import worker as copier_worker
from generator.copier_run.worker import capturing_worker_class, share_compiled_strings

CONTEXT = {"kind": "service", "port": 8080, "items": [1, 2], "name": "web"}
# Everything Jinja's markup is made of, and enough else to make plain text of.
TEXT = st.text(alphabet="{}%#[]-+ \n\rabkind|'\"", max_size=24)


def _jinja_env(tmp_path: Path, copier_yml: str) -> Any:
    """The Jinja environment Copier's worker builds for a template with this copier.yml."""
    template = tmp_path / "template"
    template.mkdir(parents=True, exist_ok=True)
    (template / "copier.yml").write_text(copier_yml)
    return Worker(src_path=str(template), dst_path=tmp_path / "out", quiet=True).jinja_env


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """Copier's environment with the shared compiled strings, and a fresh one to compare."""
    folder = tmp_path_factory.mktemp("worker")
    shared = _jinja_env(folder / "a", "kind: {type: str}\n")
    share_compiled_strings(shared)
    return shared, _jinja_env(folder / "b", "kind: {type: str}\n")


def _render(env: Any, source: str) -> str:
    try:
        return str(env.from_string(source).render(**CONTEXT))
    except Exception as error:  # compare the failure too: same type, same message
        return f"{type(error).__name__}: {error}"


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=TEXT)
def test_a_shared_string_renders_as_jinja_renders_it(envs: tuple[Any, Any], source: str) -> None:
    shared, fresh = envs
    assert _render(shared, source) == _render(fresh, source)
    assert _render(shared, source) == _render(fresh, source)  # and again, from the cache


def test_text_without_markup_skips_the_context_and_markup_does_not(
    envs: tuple[Any, Any],
) -> None:
    shared, _fresh = envs
    plain = [type(shared.from_string(s)).__name__ for s in ("str", "", "a } b %}", "#x")]
    templated = [type(shared.from_string(s)).__name__ for s in ("{{ kind }}", "{# c #}", "x\n")]
    assert plain == ["PlainText"] * 4
    assert "PlainText" not in templated
    assert shared.from_string("str").render(**CONTEXT) == "str"


def test_other_delimiters_decide_what_is_markup(tmp_path: Path) -> None:
    envops = (
        "_envops:\n  variable_start_string: '[['\n  variable_end_string: ']]'\n"
        "  block_start_string: '[%'\n  block_end_string: '%]'\n"
    )
    env = _jinja_env(tmp_path, envops + "kind: {type: str}\n")
    share_compiled_strings(env)
    assert env.from_string("{{ kind }}").render(**CONTEXT) == "{{ kind }}"
    assert type(env.from_string("{{ kind }}")).__name__ == "PlainText"
    assert env.from_string("[[ kind ]]").render(**CONTEXT) == "service"
    assert type(env.from_string("[[ kind ]]")).__name__ != "PlainText"


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
