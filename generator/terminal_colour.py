"""Colour for terminals only: never when piped, never with NO_COLOR set (no-color.org)."""

from __future__ import annotations

import os
from typing import Literal, TextIO

__all__ = ["Colour", "paint", "use_color"]

Colour = Literal["green", "yellow", "red", "bold"]
_CODES = {"green": "32", "yellow": "33", "red": "31", "bold": "1"}


def use_color(stream: TextIO) -> bool:
    """True when `stream` is a terminal and neither NO_COLOR nor TERM=dumb says otherwise."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, colour: Colour, stream: TextIO) -> str:
    """`text` in `colour` when `stream` takes colour, else `text` unchanged."""
    if not use_color(stream):
        return text
    return f"\x1b[{_CODES[colour]}m{text}\x1b[0m"
