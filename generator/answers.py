"""Answers given on the command line, read exactly as Copier reads them.

`copier copy --data-file FILE` loads the file with PyYAML (YAML 1.1: `yes` and `on` are true,
`1e3` and `0o17` are strings, `010` is eight); `--data KEY=VALUE` keeps VALUE as text; then
Copier casts every answer by its question's `type`. `read_answers` does the same, so the CLI
and a plain Copier run record the same answers, and it refuses before anything is written:

- a name that is not a question of `copier.yml` (with a "did you mean"), or a Copier
  setting (`_src_path`, `_copier_python`, ...: a name starting with `_`);
- an answer Copier could not cast, or a word a bool question does not know;
- a control character or line break in a one-line (`str`) answer;
- an age private key anywhere in an answer (answers are stored in plain text).

Example::

    read_answers(Path("web.yml"), ["port=010", "clusters=[koala]"])
    # {..., "port": 10, "clusters": ["koala"]}   (--data wins over --data-file)
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from generator.errors import InputError, OnboardError
from generator.redaction import holds_private_key
from generator.rules import ONE_LINE_RULE, PRIVATE_KEY_RULE, control_character

__all__ = [
    "ANSWERS_FILE",
    "cast",
    "load_answers",
    "parse_recorded",
    "parse_yaml",
    "questions",
    "read_answers",
    "refuse_unknown",
]

ANSWERS_FILE = ".copier-answers.yml"  # where Copier records a copy's answers
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TRUE = frozenset({"y", "yes", "t", "true", "on"})
_FALSE = frozenset({"", "n", "no", "f", "false", "off", "~", "null", "none"})


@functools.cache
def questions() -> dict[str, str]:
    """Every question of the template's `copier.yml`, with its type (`str`, `int`, `yaml`...).

    Read from the `copier.yml` shipped in the package (a source checkout: the one at the
    project root), so the CLI knows exactly the questions of the template it belongs to.
    """
    packaged = resources.files("generator").joinpath("copier.yml")
    checkout = Path(__file__).resolve().parent.parent / "copier.yml"
    if packaged.is_file():
        text = packaged.read_text(encoding="utf-8")
    elif checkout.is_file():
        text = checkout.read_text(encoding="utf-8")
    else:
        raise OnboardError("copier.yml is missing from the installed package; reinstall it")
    settings = yaml.load(text, Loader=_LOADER)  # libyaml: a tenth of the pure parser's time
    return {name: _type_of(spec) for name, spec in settings.items() if not name.startswith("_")}


def _type_of(spec: object) -> str:
    # As Copier: `name: value` is a question with that default; without a `type`, a question
    # takes its default's type, else yaml.
    question = spec if isinstance(spec, dict) else {"default": spec}
    if question.get("type"):
        return str(question["type"])
    default = type(question.get("default")).__name__
    return default if default in _CASTS else "yaml"


def refuse_unknown(names: Sequence[object], source: str) -> None:
    """Raise `InputError` naming `source` for the first name that is not a question."""
    known = questions()
    for name in names:
        text = str(name)
        if text in known:
            continue
        if text.startswith("_"):
            raise InputError(
                source,
                f"{text!r} is a Copier setting, not a question; settings come from the "
                "template and the answers file, never from answers given here",
            )
        close = difflib.get_close_matches(text, list(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(source, f"unknown question {text!r}{hint}")


def parse_recorded(text: str) -> Any:
    """Recorded answers text read the way Copier reads it (PyYAML, YAML 1.1).

    Copier writes answers with PyYAML; a YAML 1.2 reader would turn a recorded `1e3` or
    `0o17` string into a number. Raises `yaml.YAMLError` on text that is not YAML.
    """
    return yaml.load(text, Loader=_LOADER)


def load_answers(path: Path) -> dict[str, Any]:
    """The answers Copier recorded in `path`, as a mapping; `OnboardError` when unreadable."""
    try:
        data = parse_recorded(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise OnboardError(f"{path}: cannot be read ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise OnboardError(f"{path}: is not a Copier answers mapping")
    return data


def parse_yaml(text: str, field: str) -> Any:
    """YAML 1.1 text as Copier parses it (PyYAML), or `InputError` without the text shown."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(field, f"must be valid YAML ({_where(error)})") from None


def _where(error: yaml.YAMLError) -> str:
    # The problem and its position only: PyYAML's snippet would print the answer back.
    problem = getattr(error, "problem", None) or "cannot be parsed"
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return str(problem)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"


def _as_str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode()
    raise ValueError("must be one value, not a list or a mapping")


def _as_bool(value: object) -> bool:
    try:
        return bool(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        pass
    word = value.strip().lower() if isinstance(value, str) else None
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    # Copier would take any other text as true; refuse to guess.
    raise ValueError("must be true or false (yes/no, on/off, 1/0)")


def _as_int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        raise ValueError("must be an integer") from None


_CASTS: dict[str, Callable[[Any], Any]] = {
    "bool": _as_bool,
    "float": float,
    "int": _as_int,
    "json": json.loads,
    "str": _as_str,
    "yaml": yaml.safe_load,
    "path": str,
}


def cast(name: str, value: object) -> Any:
    """`value` cast by the type of question `name`, as Copier casts a `--data` answer."""
    kind = questions().get(name, "str")
    if value is None and kind not in ("json", "yaml"):
        raise InputError(name, f"must be a {kind} value, not null (~)")
    if kind in ("json", "yaml") and not isinstance(value, str):
        return value  # already parsed by the --data-file reader
    if kind == "yaml":
        return parse_yaml(str(value), name)
    try:
        return _CASTS[kind](value)
    except ValueError as error:
        rule = str(error) if kind in ("str", "bool", "int") else f"must be a {kind} value"
        raise InputError(name, rule, value if isinstance(value, str) else None) from None


def _refuse_private_key(name: str, value: object) -> None:
    if holds_private_key(value):
        raise InputError(name, PRIVATE_KEY_RULE)


def _refuse_control_character(name: str, value: object) -> None:
    found = control_character(value) if isinstance(value, str) else ""
    if found and questions().get(name) == "str":
        raise InputError(name, f"{ONE_LINE_RULE} (found {found})")


def _data_file(path: Path) -> dict[Any, Any]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError("--data-file", f"cannot read {path} ({error.strerror})") from None
    try:
        loaded = yaml.safe_load(raw)  # bytes, as Copier's CLI reads it
    except yaml.YAMLError as error:
        if holds_private_key(raw.decode("utf-8", "replace")):
            raise InputError("--data-file", PRIVATE_KEY_RULE) from None
        raise InputError("--data-file", f"must be valid YAML ({_where(error)})") from None
    if not isinstance(loaded, dict):
        raise InputError("--data-file", "must hold a YAML mapping of answers")
    return loaded


def _data_flags(items: Sequence[str]) -> dict[str, str]:
    given: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError("--data", "must be KEY=VALUE", item)
        given[name] = value
    return given


def read_answers(data_file: Path | None, data: Sequence[str]) -> dict[str, Any]:
    """`--data-file` and `--data` (which wins) as Copier reads them, checked and cast."""
    from_file = _data_file(data_file) if data_file is not None else {}
    refuse_unknown(list(from_file), "--data-file")
    from_flags = _data_flags(data)
    refuse_unknown(list(from_flags), "--data")
    answers: dict[str, Any] = {}
    for name, value in {**from_file, **from_flags}.items():
        _refuse_private_key(name, value)  # before parsing: a parse error must not be the news
        answers[name] = cast(name, value)
        _refuse_control_character(name, answers[name])
    return answers
