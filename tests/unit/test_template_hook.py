"""Wrapping a function of Copier's `_template` module once (`copier_run.template_hook`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from copier import _template

from generator.copier_run.template_hook import wrap_copier_attribute, wrap_template_function

MARK = "_test_wrapped_once"


def marking(function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any) -> Any:
        return ("wrapped", function(*args))

    return wrapped


def test_a_function_is_wrapped_once_however_often_and_from_however_many_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_template, "probe", lambda value: value, raising=False)
    threads = [
        threading.Thread(target=wrap_template_function, args=("probe", marking, MARK))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wrap_template_function("probe", marking, MARK)
    assert _template.probe(1) == ("wrapped", 1)  # type: ignore[attr-defined]


def test_a_function_copier_does_not_have_is_left_alone() -> None:
    wrap_template_function("no_such_function", marking, MARK)
    assert not hasattr(_template, "no_such_function")


def test_a_method_of_a_copier_class_is_wrapped_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from copier._main import Worker

    monkeypatch.setattr(Worker, "probe", staticmethod(lambda value: value), raising=False)
    for _ in range(3):
        wrap_copier_attribute("copier._main", "Worker.probe", marking, MARK)
    assert Worker.probe(1) == ("wrapped", 1)  # type: ignore[attr-defined]


def test_a_class_or_module_copier_does_not_have_is_left_alone() -> None:
    wrap_copier_attribute("copier._main", "NoSuchClass.probe", marking, MARK)
    wrap_copier_attribute("copier._no_such_module", "probe", marking, MARK)
