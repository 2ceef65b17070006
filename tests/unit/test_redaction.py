"""generator.redaction: age private keys never come back in a message."""

from __future__ import annotations

import io
import sys

import pyrage
from hypothesis import given
from hypothesis import strategies as st

from generator.redaction import (
    REDACTED,
    RedactingWriter,
    holds_private_key,
    identity_prefix,
    redact,
    redacted_output,
    unredacted_stdout,
)

KEY = str(pyrage.x25519.Identity.generate())
PUBLIC = str(pyrage.x25519.Identity.generate().to_public())


def test_the_prefix_is_the_one_pyrage_writes() -> None:
    assert KEY.startswith(identity_prefix())


def test_a_key_in_any_case_is_replaced_and_a_public_key_stays() -> None:
    text = f"got '[{KEY}' and {KEY.lower()} for {PUBLIC}"
    assert redact(text) == f"got '[{REDACTED}' and {REDACTED} for {PUBLIC}"


def test_the_rest_of_a_key_whose_prefix_was_cut_off_is_replaced() -> None:
    body = KEY.removeprefix(identity_prefix())
    assert redact(f"...{body[5:]} near line 3") == f"...{REDACTED} near line 3"


@given(st.text(max_size=60), st.text(max_size=60))
def test_no_text_around_a_key_lets_it_through(before: str, after: str) -> None:
    assert KEY not in redact(before + KEY + after)
    assert holds_private_key(before + KEY + after)


@given(st.text("abcdefghijklmnopqrstuvwxyz0123456789 .:/-_'\"\n", max_size=80))
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert redact(text) == text


def test_holds_private_key_looks_everywhere_in_an_answer() -> None:
    assert holds_private_key({"env": {"A": ["x", KEY]}})
    assert holds_private_key({KEY: "value"})
    assert holds_private_key((1, frozenset({KEY})))
    assert not holds_private_key({"age_recipients": [PUBLIC], "port": 80, "none": None})


def test_the_writer_redacts_and_reports_the_length_given() -> None:
    stream = io.StringIO()
    writer = RedactingWriter(stream)
    assert writer.write(f"key {KEY}\n") == len(f"key {KEY}\n")
    assert stream.getvalue() == f"key {REDACTED}\n"
    assert writer.getvalue() == stream.getvalue()  # everything else is the stream's


def test_redacted_output_wraps_both_streams_and_puts_them_back() -> None:
    saved = sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    sys.stdout, sys.stderr = out, err
    try:
        with redacted_output():
            print(KEY)
            print(KEY, file=sys.stderr)
            unredacted_stdout()
            print(KEY)
            assert sys.stdout is out
        assert (sys.stdout, sys.stderr) == (out, err)
    finally:
        sys.stdout, sys.stderr = saved
    assert out.getvalue() == f"{REDACTED}\n{KEY}\n"
    assert err.getvalue() == f"{REDACTED}\n"
