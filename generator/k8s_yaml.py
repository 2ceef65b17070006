"""Read Kubernetes manifests the way kustomize does: go-yaml v3's types for plain scalars.

kustomize reads and writes YAML with go-yaml v3 (YAML 1.2): a plain scalar is a bool only
when it is `true` or `false` (in three spellings), null only when empty, `~` or `null`, a
number when Go parses it as one, and a string otherwise. It writes the value of a string
plain unless that would read as something else, to go-yaml or to a YAML 1.1 reader such as
Kubernetes' own, which sees `yes`, `on` or `0o17` differently: kustomize quotes those. It
writes `=` and `<<` plain: strings to both. PyYAML's and ruamel's safe loaders resolve the
two as YAML 1.1's `value` tag and the merge key, and fail on a valid manifest.

`<<` as a mapping key still merges, as it does in go-yaml. Timestamps stay strings (go-yaml
gives a string for an untyped value, and Kubernetes takes them as strings).

`load_all` reads a cluster's whole build, so it builds plain mappings, lists and scalars
itself and leaves a document to PyYAML's constructor only when it holds something else (an
explicit tag, a merge key, a key that is not a scalar): the result is the same, at about half
the time.

`load_as_written` reads a document the way kustomize reads a string field such as an image's
`newTag`: each scalar is the text it was written as (`newTag: 1.10` is the tag "1.10", not
the number 1.1), and only a plain null spelling is None.

Example::

    objects = load_all(kustomize_build_text(cluster_dir))
    load_as_written("newTag: 1.10")  # {"newTag": "1.10"}
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Base
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _Base  # type: ignore[assignment]

__all__ = ["load_all", "load_as_written"]

_PLAIN = "tag:gitops-onboard:go-plain"
_MERGE = "tag:yaml.org,2002:merge"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
}
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
# go-yaml's yamlStyleFloat
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_GO_OCTAL = re.compile(r"[-+]?0[0-7]+")
_INT64 = (-(1 << 63), (1 << 64) - 1)  # ParseInt, then ParseUint


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"


class _Loader(_Base):
    """A safe loader whose plain scalars resolve as go-yaml v3 resolves them."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        # The parser asks this for every node: the resolvers below, without their loop.
        if kind is yaml.ScalarNode:
            if implicit[0]:
                return _MERGE if value == "<<" else _PLAIN
            return _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP


_Loader.yaml_implicit_resolvers = {
    "<": [(_MERGE, re.compile(r"<<\Z"))],
    None: [(_PLAIN, re.compile(r"(?s).*"))],
}


def _go_number(text: str) -> int | float | None:
    """The number Go's ParseInt (base 0), ParseUint or ParseFloat reads, as go-yaml tries them."""
    plain = text.replace("_", "")
    try:
        number = int(plain, 8) if _GO_OCTAL.fullmatch(plain) else int(plain, 0)
    except ValueError:
        number = None
    if number is not None and _INT64[0] <= number <= _INT64[1]:
        return number
    if _FLOAT.fullmatch(plain):
        return float(plain)
    return None


def _plain_scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    return _plain_value(str(node.value))


def _plain_value(text: str) -> Any:
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text[0] in "+-.0123456789":
        number = _go_number(text)
        if number is not None:
            return number
    return text


def _merge_as_value(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    """`<<` anywhere but as a key is the string "<<"."""
    return str(node.value)


_Loader.add_constructor(_PLAIN, _plain_scalar)
_Loader.add_constructor(_MERGE, _merge_as_value)


def load_all(text: str) -> list[Any]:
    """Every document of a YAML stream, typed as kustomize types it; raises `yaml.YAMLError`."""
    loader = _Loader(text)
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node said there is one
            try:
                documents.append(_built(node, {}))
            except (_Unusual, RecursionError):
                documents.append(loader.construct_document(node))
        return documents
    finally:
        loader.dispose()


class _Unusual(Exception):
    """A node `_built` leaves to PyYAML's constructor."""


def _built(node: yaml.Node, seen: dict[int, Any]) -> Any:
    """The value of `node` as the loader's constructor builds it, for plain YAML only.

    `seen` holds each mapping and list built so far by node, so an alias gives the same
    object (and a recursive one ends), as it does from PyYAML.
    """
    tag = node.tag
    if tag == _PLAIN:
        return _plain_value(node.value)
    if tag == _STR:
        return node.value
    if id(node) in seen:
        return seen[id(node)]
    if tag == _MAP and isinstance(node, yaml.MappingNode):
        mapping: dict[Any, Any] = {}
        seen[id(node)] = mapping
        for key_node, value_node in node.value:
            if key_node.tag == _PLAIN:
                key = _plain_value(key_node.value)
            elif key_node.tag == _STR:
                key = key_node.value
            else:
                raise _Unusual  # a merge key, an explicit tag, a mapping or list as a key
            mapping[key] = _built(value_node, seen)
        return mapping
    if tag == _SEQ and isinstance(node, yaml.SequenceNode):
        sequence: list[Any] = []
        seen[id(node)] = sequence
        sequence.extend(_built(item, seen) for item in node.value)
        return sequence
    raise _Unusual


class _AsWritten(_Base):
    """A safe loader whose plain scalars stay text, except YAML's null spellings."""


_AsWritten.yaml_implicit_resolvers = {None: [(_PLAIN, re.compile(r"(?s).*"))]}


def _plain_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str | None:
    text = str(node.value)
    return None if text in _NULLS else text


_AsWritten.add_constructor(_PLAIN, _plain_text)


def load_as_written(text: str) -> Any:
    """One YAML document, every scalar as the text it was written as; raises `yaml.YAMLError`."""
    return yaml.load(text, Loader=_AsWritten)
