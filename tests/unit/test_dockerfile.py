"""Dockerfile quoting: ENV values BuildKit takes literally, exec-form JSON arrays."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from generator.dockerfile import env_value, exec_form


def unquote(quoted: str) -> str:
    """What BuildKit reads from a double-quoted ENV value: `\\x` is `x`."""
    assert quoted.startswith('"') and quoted.endswith('"'), quoted
    return re.sub(r"\\(.)", r"\1", quoted[1:-1], flags=re.S)


def test_dollar_quotes_and_backslashes_are_escaped() -> None:
    assert env_value('a$b "c"') == '"a\\$b \\"c\\""'
    assert env_value("C:\\dir") == '"C:\\\\dir"'
    assert env_value(None) == '""'
    assert env_value(8080) == '"8080"'


@given(st.text())
def test_every_env_value_reads_back_as_written_and_expands_nothing(value: str) -> None:
    quoted = env_value(value)
    assert unquote(quoted) == value
    inner = quoted[1:-1]
    # every `$` and `"` inside is escaped: preceded by an odd number of backslashes
    for match in re.finditer(r'(\\*)[$"]', inner):
        assert len(match.group(1)) % 2 == 1, quoted


@given(st.one_of(st.text(), st.lists(st.text())))
def test_exec_form_is_a_json_array_of_the_arguments(value: str | list[str]) -> None:
    expected = value if isinstance(value, list) else [value]
    assert json.loads(exec_form(value)) == expected


def test_exec_form_keeps_non_ascii_readable() -> None:
    assert exec_form(["/bin/café"]) == '["/bin/café"]'
