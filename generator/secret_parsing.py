r"""Read a mapping of secret values given as YAML, JSON or a dotenv file (pure text parsing).

Errors name the line or the key and the rule, never a value.

Example::

    parse_values('API_KEY: "s3cr3t"')          # YAML
    parse_values('{"API_KEY": "s3cr3t"}')      # JSON (read as JSON: its escapes are not YAML's)
    parse_values('API_KEY="s3cr3t"\nTOKEN=x')  # dotenv: KEY=VALUE lines, `export` allowed
"""

from __future__ import annotations

import json
import re
from typing import Any

from ruamel.yaml.error import YAMLError

from generator.errors import InputError
from generator.rules import env_name
from generator.yamltext import new_yaml

__all__ = ["parse_values"]

_DOTENV_KEY = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$"}


def parse_values(text: str, where: str = "--secrets-from") -> dict[str, str]:
    """A mapping of names to string values from YAML/JSON, or else from dotenv text."""
    if not text.strip():
        return {}
    loaded = _json(text, where) if text.lstrip().startswith("{") else None
    if loaded is None:
        try:
            loaded = new_yaml().load(text)
        except YAMLError:
            loaded = None
    if isinstance(loaded, dict) and all(isinstance(k, str) and not env_name(k) for k in loaded):
        for key, value in loaded.items():
            if not isinstance(value, str):
                raise InputError(where, f"{key}: values must be strings; quote it")
            _require_text(key, value, where)
        return dict(loaded)
    return _dotenv(text, where)


def _json(text: str, where: str) -> dict[str, Any] | None:
    """The JSON object `text` holds (None when it is no JSON), a key given twice refused."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for key, value in pairs:
            if key in mapping:
                raise InputError(where, f"{key}: given twice; give each key once")
            mapping[key] = value
        return mapping

    try:
        loaded = json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError:
        return None
    return loaded if isinstance(loaded, dict) else None


def _require_text(key: str, value: str, where: str) -> None:
    """Refuse a lone surrogate escape (half an emoji): sops and the cluster take UTF-8."""
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise InputError(
            where, f"{key}: values must be valid Unicode text (it holds a lone surrogate escape)"
        )


def _dotenv(text: str, where: str) -> dict[str, str]:
    values: dict[str, str] = {}
    position, line = 0, 1
    while position < len(text):
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        row = text[position:end].strip()
        if not row or row.startswith("#"):
            position, line = end + 1, line + 1
            continue
        match = _DOTENV_KEY.match(text, position)
        if match is None:
            raise InputError(
                where, f"line {line}: expected KEY=VALUE (or a YAML/JSON mapping of strings)"
            )
        start = match.end()
        value, position, used = _value(text, start, where, line)
        values[match.group(1)] = value
        line += used
    return values


def _value(text: str, start: int, where: str, line: int) -> tuple[str, int, int]:
    """Parse one value starting at `start`; return it, the next position and lines used."""
    quote = text[start : start + 1]
    if quote == '"':
        out: list[str] = []
        i = start + 1
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                out.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
                i += 2
                continue
            if char == '"':
                return (
                    "".join(out),
                    _line_end(text, i + 1, where, line),
                    text.count("\n", start, i) + 1,
                )
            out.append(char)
            i += 1
        raise InputError(where, f"line {line}: unterminated double-quoted value")
    if quote == "'":
        close = text.find("'", start + 1)
        if close < 0:
            raise InputError(where, f"line {line}: unterminated single-quoted value")
        return (
            text[start + 1 : close],
            _line_end(text, close + 1, where, line),
            text.count("\n", start, close) + 1,
        )
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    raw = re.sub(r"\s+#.*$", "", text[start:end]).strip()
    return raw, end + 1, 1


def _line_end(text: str, position: int, where: str, line: int) -> int:
    """After a closing quote only blanks and a comment may follow on the line."""
    end = text.find("\n", position)
    end = len(text) if end < 0 else end
    rest = text[position:end].strip()
    if rest and not rest.startswith("#"):
        raise InputError(where, f"line {line}: unexpected text after the closing quote")
    return end + 1
