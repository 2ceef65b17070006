"""Terminal colour: only on a terminal, never with NO_COLOR or TERM=dumb."""

from __future__ import annotations

import io

import pytest

from generator.terminal_colour import paint, use_color


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert use_color(Tty())
    assert paint("ok", "green", Tty()) == "\x1b[32mok\x1b[0m"
    assert paint("failed", "red", Tty()) == "\x1b[31mfailed\x1b[0m"


@pytest.mark.parametrize(
    ("no_color", "term"), [("1", "xterm"), ("", "dumb")], ids=["NO_COLOR", "TERM=dumb"]
)
def test_no_color_and_a_dumb_terminal_get_plain_text(
    no_color: str, term: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", no_color)
    monkeypatch.setenv("TERM", term)
    assert not use_color(Tty())
    assert paint("ok", "green", Tty()) == "ok"


def test_a_pipe_or_a_file_gets_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert paint("ok", "bold", io.StringIO()) == "ok"
    assert not use_color(object())  # type: ignore[arg-type]  # a stream without isatty
