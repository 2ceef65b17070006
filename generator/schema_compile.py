"""Compile a Kubernetes JSON schema into Python checks that answer one question: valid or not.

The schemas kubernetes-validate ships (draft 2020-12) use a handful of keywords: `type`,
`properties`, `additionalProperties`, `required`, `items`, `enum`, `oneOf` and `$ref` into the
shared `_definitions.json`, plus annotations (`description`, `format`, `x-kubernetes-*`).
Each is compiled into a closure with jsonschema's own meaning (its draft 2020-12 type checker,
`format` an annotation as jsonschema treats it without a format checker), once per schema
node, so that checking an object walks the object, not the schema.

A schema with any other keyword, or a `$ref` elsewhere, is not compiled (`compile` returns
None): the caller then validates with jsonschema. The checks give no reasons; the caller asks
jsonschema for them when an object fails.

Example::

    compiler = SchemaCompiler(definitions)       # the parsed _definitions.json
    check = compiler.compile(deployment_schema)  # None if a keyword is unknown
    if check is not None and check(obj): ...     # valid
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Check", "SchemaCompiler"]

Check = Callable[[Any], bool]

_REF = re.compile(r"(?:(?:https://kubernetes\.io)?/api/_definitions\.json)?#/\$defs/([^/~]+)")
_ANNOTATIONS = frozenset(
    {"$comment", "$id", "$schema", "$defs", "default", "description", "format", "title"}
)


class _Unsupported(Exception):
    """The schema uses something the compiler does not translate."""


def _is_integer(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


# jsonschema's draft 2020-12 type checker.
_TYPES: dict[str, Check] = {
    "array": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "integer": _is_integer,
    "null": lambda value: value is None,
    "number": _is_number,
    "object": lambda value: isinstance(value, dict),
    "string": lambda value: isinstance(value, str),
}


def _always(_value: object) -> bool:
    return True


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _type(spec: object) -> Check:
    names = [spec] if isinstance(spec, str) else spec
    if not isinstance(names, list) or not names or any(n not in _TYPES for n in names):
        raise _Unsupported(f"type {spec!r}")
    checks = [_TYPES[name] for name in names]
    if len(checks) == 1:
        return checks[0]
    return lambda value: any(check(value) for check in checks)


def _enum(values: object) -> Check:
    # Strings only: jsonschema's `equal` compares a string with == and with nothing else.
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _Unsupported("enum of non-strings")
    allowed = frozenset(values)
    return lambda value: isinstance(value, str) and value in allowed


def _object(
    properties: dict[str, Check], additional: Check | bool, required: tuple[str, ...]
) -> Check:
    def check(value: object) -> bool:
        if not isinstance(value, dict):
            return True
        for key, item in value.items():
            known = properties.get(key) if isinstance(key, str) else None
            if known is not None:
                if not known(item):
                    return False
            elif additional is not True and (additional is False or not additional(item)):
                return False
        return all(name in value for name in required)

    return check


def _items(item: Check) -> Check:
    return lambda value: not isinstance(value, list) or all(item(v) for v in value)


def _one_of(checks: list[Check]) -> Check:
    return lambda value: sum(1 for check in checks if check(value)) == 1


class SchemaCompiler:
    """Compiles schemas whose `$ref`s point into one `_definitions.json`, sharing definitions."""

    def __init__(self, definitions: Mapping[str, Any]) -> None:
        defs = definitions.get("$defs")
        self._definitions: Mapping[str, Any] = defs if isinstance(defs, Mapping) else {}
        self._compiled: dict[str, list[Check]] = {}
        self._unsupported: set[str] = set()

    def compile(self, schema: Mapping[str, Any]) -> Check | None:
        """The check for `schema`, or None when it uses what this compiler does not know."""
        try:
            return self._node(schema)
        except _Unsupported:
            return None

    def _ref(self, ref: object) -> Check:
        match = _REF.fullmatch(ref) if isinstance(ref, str) else None
        if match is None or match[1] not in self._definitions or match[1] in self._unsupported:
            raise _Unsupported(f"$ref {ref!r}")
        name = match[1]
        cell = self._compiled.get(name)
        if cell is None:
            # The cell is filled after the definition compiles; a definition that refers to
            # itself (JSONSchemaProps) reads it only when an object is checked.
            cell = self._compiled[name] = []
            try:
                cell.append(self._node(self._definitions[name]))
            except _Unsupported:
                del self._compiled[name]
                self._unsupported.add(name)
                raise
        return lambda value: cell[0](value)

    def _node(self, schema: object) -> Check:
        if schema is True:
            return _always
        if not isinstance(schema, Mapping):
            raise _Unsupported(f"schema {schema!r}")
        checks: list[Check] = []
        properties: dict[str, Check] | None = None
        additional: Check | bool = True
        required: tuple[str, ...] = ()
        for key, value in schema.items():
            if key in _ANNOTATIONS or key.startswith("x-"):
                continue
            if key == "type":
                checks.append(_type(value))
            elif key == "enum":
                checks.append(_enum(value))
            elif key == "$ref":
                checks.append(self._ref(value))
            elif key == "properties" and isinstance(value, Mapping):
                properties = {str(name): self._node(sub) for name, sub in value.items()}
            elif key == "additionalProperties":
                additional = value if isinstance(value, bool) else self._node(value)
            elif key == "required" and isinstance(value, list):
                required = tuple(str(name) for name in value)
            elif key == "items" and isinstance(value, Mapping):
                checks.append(_items(self._node(value)))
            elif key == "oneOf" and isinstance(value, list) and value:
                checks.append(_one_of([self._node(sub) for sub in value]))
            else:
                raise _Unsupported(key)
        if properties is not None or additional is not True or required:
            checks.append(_object(properties or {}, additional, required))
        return _all(checks)
