"""generator.yamltext: the YAML factory and the double-quoted emitter."""

from __future__ import annotations

import io

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from generator.yamltext import NO_WRAP, double_quoted, new_yaml, yaml_str

_FAST: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# What Kubernetes' YAML 1.1 reader would take for a bool, a number, null or a date unquoted.
TRICKY = ["yes", "No", "on", "0755", "1e3", "0x1F", "~", "null", "", "2024-01-01", "-", "*a"]


@pytest.mark.parametrize("value", TRICKY)
def test_yaml_1_1_look_alikes_stay_strings(value: str) -> None:
    quoted = yaml_str(value)
    assert quoted.startswith('"') and quoted.endswith('"')
    assert yaml.safe_load(f"key: {quoted}\n") == {"key": value}


def test_non_strings_are_written_as_their_text_and_none_as_empty() -> None:
    assert yaml_str(3200) == '"3200"'
    assert yaml_str(True) == '"True"'
    assert yaml_str(None) == '""'


def test_non_ascii_is_kept_as_it_is() -> None:
    assert yaml_str("café ☕") == '"café ☕"'


@given(st.text())
@example("a\nb")
@example(" leading and trailing ")
@example("x" * 200 + " " + "y" * 200)
@example("\x85\u2028\ufeff")
def test_any_text_is_one_line_that_reads_back_as_itself(text: str) -> None:
    """The emitter's output, embedded after a key, loads back to the same string with a
    YAML 1.1 reader, and never spans more than one line (long values are not folded)."""
    quoted = double_quoted(text)
    assert "\n" not in quoted
    assert quoted.startswith('"') and quoted.endswith('"')
    assert yaml.load(f"key: {quoted}\n", Loader=_FAST) == {"key": text}


@pytest.mark.parametrize("text", [*TRICKY, "a\nb", "tab\there", "\x85\u2028", 'quote " \\'])
def test_ruamel_reads_the_emitter_output_back_too(text: str) -> None:
    assert new_yaml().load(f"key: {double_quoted(text)}\n") == {"key": text}


def test_safe_yaml_loads_plain_data_and_round_trip_keeps_comments_and_quotes() -> None:
    text = "# note\nname: 'web'  # keep\nport: 80\n"
    assert new_yaml().load(text) == {"name": "web", "port": 80}
    rt = new_yaml("rt", preserve_quotes=True)
    out = io.StringIO()
    rt.dump(rt.load(text), out)
    assert out.getvalue() == text


def test_width_is_applied() -> None:
    long = {"key": " ".join(["word"] * 40)}
    folded, unfolded = io.StringIO(), io.StringIO()
    new_yaml("safe", width=20).dump(long, folded)
    new_yaml("safe", width=NO_WRAP).dump(long, unfolded)
    assert folded.getvalue().count("\n") > 1
    assert unfolded.getvalue().count("\n") == 1
