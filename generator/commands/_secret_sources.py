"""Where secret values come from on the command line: stdin, a hidden prompt, the environment.

Never from an argument: arguments show up in process listings and shell history.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from generator.errors import InputError
from generator.secret_parsing import parse_values

__all__ = ["prompt_values", "read_secret", "read_values", "stdin_is_terminal", "values_from_env"]


def stdin_is_terminal() -> bool:
    """True when a person can be prompted."""
    return sys.stdin is not None and sys.stdin.isatty()


def read_secret(what: str, *, keep_newline: bool = False) -> str:
    """One value: all of stdin when it is not a terminal, else a hidden prompt.

    From stdin, one trailing newline (as `echo` adds) is dropped unless `keep_newline`.
    """
    if not stdin_is_terminal():
        text = sys.stdin.read() if sys.stdin is not None else ""
        if not keep_newline:
            text = text.removesuffix("\n").removesuffix("\r")
        if not text:
            raise InputError(what, "got no value on stdin")
        return text
    value = getpass.getpass(f"{what} (input hidden): ")
    if not value:
        raise InputError(what, "must not be empty")
    return value


def read_values(source: str) -> dict[str, str]:
    """A YAML/JSON/dotenv mapping from a file, or from stdin when `source` is `-`."""
    if source == "-":
        if stdin_is_terminal():
            raise InputError(
                "--secrets-from", "- reads stdin, which is a terminal; pipe the values"
            )
        text = sys.stdin.read()
    else:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problem = f"cannot read {source} ({error.__class__.__name__})"
            raise InputError("--secrets-from", problem) from None
    return parse_values(text)


def values_from_env(keys: Sequence[str]) -> dict[str, str]:
    """Each key's value from the environment variable of the same name, where set."""
    return {key: os.environ[key] for key in keys if os.environ.get(key)}


def prompt_values(keys: Sequence[str], service: str) -> dict[str, str]:
    """Ask for each key with a hidden prompt; an empty answer leaves a placeholder."""
    values: dict[str, str] = {}
    for key in keys:
        value = getpass.getpass(f"{service} {key} (input hidden, empty for later): ")
        if value:
            values[key] = value
    return values
