"""k8s_yaml.load_all gives what PyYAML's constructor gives with the same go-yaml typing."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from generator import k8s_yaml


class _Reference(k8s_yaml._Loader):
    """The same typing, through PyYAML's own resolver loop and constructor."""

    resolve = yaml.resolver.BaseResolver.resolve


def _reference(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=_Reference))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "---\n---\n",
        "a: 1\n---\nb: [1, 2]\n...\n",
        "plain: yes\nquoted: 'true'\nnull: ~\nempty:\nnumber: 0755\nhex: 0x1F\nfloat: 1e3\n",
        "inf: .inf\nnan: .NaN\nsign: -.Inf\nstamp: 2024-01-01\nequals: =\nvalue: <<\n",
        "block: |\n  one\n  two\nfolded: >-\n  three\n  four\n",
        "1: one\n~: none\ntrue: yes\n'2': two\n",
        "base: &b {x: 1}\nmerged: {<<: *b, y: 2}\n",
        "base: &b {x: 1}\nmore: &m {z: 3}\nmerged:\n  <<: [*b, *m]\n  y: 2\n",
        "tagged: !!int '3'\nstring: !!str 4\nbinary: !!binary aGk=\n",
        "set: !!set {a, b}\nomap: !!omap [a: 1, b: 2]\n",
        "dup: 1\ndup: 2\n",
        "kind: Secret\nsops:\n  mac: ENC[x]\n  age: [{recipient: age1x, enc: y}]\n",
        "deep: " + "[" * 600 + "]" * 600 + "\n",  # read by PyYAML: too deep to read here
    ],
    ids=lambda text: text[:40],
)
def test_load_all_matches_pyyaml(text: str) -> None:
    assert k8s_yaml.load_all(text) == _reference(text)


def test_an_alias_is_the_same_object_as_its_anchor() -> None:
    [doc] = k8s_yaml.load_all("a: &x {k: [1]}\nb: *x\nc: &l [1]\nd: *l\n")
    assert doc["b"] is doc["a"] and doc["d"] is doc["c"]


def test_a_recursive_alias_ends() -> None:
    [doc] = k8s_yaml.load_all("&top {self: *top, list: &l [*l]}\n")
    assert doc["self"] is doc and doc["list"][0] is doc["list"]


@pytest.mark.parametrize(
    "text",
    [
        "? [a, b]\n: 1\n",  # a list as a key
        "? {a: 1}\n: 2\n",  # a mapping as a key
        "x: !unknown 1\n",
        "a: *missing\n",
        "a: [1\n",
    ],
)
def test_load_all_refuses_what_pyyaml_refuses(text: str) -> None:
    with pytest.raises(yaml.YAMLError) as ours:
        k8s_yaml.load_all(text)
    with pytest.raises(yaml.YAMLError) as theirs:
        _reference(text)
    assert type(ours.value) is type(theirs.value)


_SPELLINGS = st.sampled_from(
    ["", "~", "null", "yes", "No", "on", "true", "FALSE", "0", "-0", "0755", "0o17", "0x1F",
     "1_000", "1e3", ".5", "+.inf", ".NaN", "<<", "=", "2024-01-01", "v1.2.3", "a: b", "#",
     "- x", "'q'", "\"d\"", "ä", "18446744073709551616"]
)  # fmt: skip
_SCALARS = st.one_of(_SPELLINGS, st.text(max_size=8), st.integers(), st.booleans(), st.none())


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(_SCALARS, inner, max_size=4))


_TREES = st.recursive(_SCALARS, _nested, max_leaves=20)


@given(
    documents=st.lists(_TREES, min_size=1, max_size=3),
    style=st.sampled_from([None, "'", '"']),
    flow=st.sampled_from([None, True, False]),
)
def test_any_dumped_stream_reads_as_pyyaml_reads_it(
    documents: list[Any], style: str | None, flow: bool | None
) -> None:
    text = yaml.safe_dump_all(documents, default_style=style, default_flow_style=flow)
    # PyYAML's dump writes keys as its own YAML 1.1 reader takes them; read by go-yaml's rules
    # a key can repeat (`yes` and `true`), which both readers resolve the same way.
    assert k8s_yaml.load_all(text) == _reference(text)
