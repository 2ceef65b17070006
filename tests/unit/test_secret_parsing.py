"""generator.secret_parsing: secret values from YAML, JSON or a dotenv file."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from generator.errors import InputError
from generator.secret_parsing import parse_values

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
# Values a password manager hands out: anything printable, quotes, `$`, `#`, backslashes,
# line breaks, tabs.
VALUES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)


def dotenv_line(name: str, value: str) -> str:
    """`NAME="value"` with the escapes a dotenv reader undoes."""
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'{name}="{escaped}"'


def test_yaml_and_json_mappings_of_strings() -> None:
    assert parse_values('API_KEY: "s3cr3t"\nTOKEN: x\n') == {"API_KEY": "s3cr3t", "TOKEN": "x"}
    assert parse_values('{"API_KEY": "s3cr3t"}') == {"API_KEY": "s3cr3t"}


def test_blank_text_is_no_values() -> None:
    assert parse_values("") == {}
    assert parse_values("  \n\t\n") == {}


def test_a_yaml_value_that_is_no_string_names_the_key_not_the_value() -> None:
    with pytest.raises(InputError) as caught:
        parse_values("PORT: 8080\n", where="--secrets-from")
    assert caught.value.field == "--secrets-from"
    assert "PORT: values must be strings; quote it" in str(caught.value)
    assert "8080" not in str(caught.value)


def test_dotenv_forms() -> None:
    text = (
        "# comment\n"
        "\n"
        "export A=plain value  # trailing comment\n"
        "B='single $NOT_EXPANDED \\n'\n"
        'C="double \\"quoted\\" \\n line \\$HOME"  # comment\n'
        'D="spans\n'
        'two lines"\n'
        "E=\n"
    )
    assert parse_values(text) == {
        "A": "plain value",
        "B": "single $NOT_EXPANDED \\n",
        "C": 'double "quoted" \n line $HOME',
        "D": "spans\ntwo lines",
        "E": "",
    }


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("A=1\nnot a pair\n", "line 2: expected KEY=VALUE"),
        ('A=1\nB="open\n', "line 2: unterminated double-quoted value"),
        ("B='open\n", "line 1: unterminated single-quoted value"),
        ('A="x" y\n', "line 1: unexpected text after the closing quote"),
        ("1A=x\n", "line 1: expected KEY=VALUE"),
    ],
)
def test_dotenv_errors_name_the_line_and_the_rule(text: str, rule: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_values(text, where="secrets.env")
    assert caught.value.field == "secrets.env"
    assert rule in str(caught.value)


def test_the_line_number_counts_the_lines_a_quoted_value_spans() -> None:
    with pytest.raises(InputError, match="line 4: expected KEY=VALUE"):
        parse_values('A="one\ntwo\nthree"\noops\n')


@given(st.dictionaries(NAMES, VALUES, max_size=5))
@example({"A": 'a " \\ \n \t $HOME #x'})
@example({"export": "x", "A": " padded "})
def test_dotenv_written_with_escapes_reads_back_as_written(values: dict[str, str]) -> None:
    text = "\n".join(dotenv_line(name, value) for name, value in values.items()) + "\n"
    assert parse_values(text) == values


# A password manager's JSON export escapes every character outside ASCII (an emoji as a
# surrogate pair) and every control character; read as YAML, such values were misread.
@given(st.dictionaries(NAMES, VALUES, min_size=1, max_size=5), st.booleans())
@example({"EMOJI": "\U0001f600", "DEL": "\x7f", "NEL": "\x85"}, True)
def test_json_reads_back_as_written(values: dict[str, str], ascii_only: bool) -> None:
    assert parse_values(json.dumps(values, ensure_ascii=ascii_only)) == values


def test_a_json_key_given_twice_is_refused_by_name() -> None:
    with pytest.raises(InputError) as refused:
        parse_values('{"API_KEY": "first-value", "API_KEY": "second-value"}', "stdin")
    assert "API_KEY" in str(refused.value) and "twice" in str(refused.value)
    assert "first-value" not in str(refused.value) and "second" not in str(refused.value)


@pytest.mark.parametrize("text", ['{"K": "\\ud83d"}', '{"K": "a\\ude00b"}', 'K: "\\ud83d"'])
def test_a_lone_surrogate_is_refused_not_passed_to_sops(text: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_values(text, "stdin")
    assert "K" in str(refused.value) and "Unicode" in str(refused.value)
