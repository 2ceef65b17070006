"""The in-process Copier worker's shortcuts give what Copier itself gives.

The answer maps here are Copier's own; each shortcut is compared with what Copier does
without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from copier._user_data import AnswersMap
from hypothesis import given
from hypothesis import strategies as st

from generator.copier_run import worker as copier_worker
from generator.copier_run.worker import capturing_worker_class

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
