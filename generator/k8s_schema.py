"""Validate Kubernetes objects against the schemas shipped by kubernetes-validate.

`kubernetes_validate.validate` reloads its 1.3 MB definitions file for every object; this
module builds one validator per (kind, apiVersion) and reuses it, with the same schema files
and the same rules (strict schemas reject unknown fields). Kinds without a schema (custom
resources such as Flux objects) are reported as unknown, not as invalid.

jsonschema walks the schema afresh for every object, and a cluster holds thousands of valid
ones: each kind's schema is also compiled once into plain Python checks
(`generator.schema_compile`) that answer "valid?" only. jsonschema runs for an object those
checks reject, so the messages are jsonschema's, and for a kind whose schema uses a keyword the
compiler does not know.

kubernetes-validate and jsonschema come with the `infra` extra; they are imported when a
validator is made, so an app repo's check runs without them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from importlib.resources import files
from types import ModuleType
from typing import TYPE_CHECKING, Any

from generator.errors import InputError
from generator.extras import infra_module
from generator.schema_compile import Check, SchemaCompiler

if TYPE_CHECKING:
    from referencing import Registry

__all__ = ["DEFAULT_KUBERNETES_VERSION", "SchemaValidator", "validator_for"]

DEFAULT_KUBERNETES_VERSION = "1.32"
_API_GROUP = re.compile(r"^([^./]*)(?:\.[^/]*)?/")


def _module(name: str) -> ModuleType:
    return infra_module(name, "the Kubernetes schema check")


def _schema_version(desired: str) -> str:
    kv = _module("kubernetes_validate.utils")
    desired = desired.removeprefix("v")
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", desired):
        raise InputError("--kubernetes-version", "must look like 1.32 or 1.32.0", desired)
    wanted = tuple(int(part) for part in desired.split(".")[:2])
    known = [v for v in kv.all_versions() if tuple(map(int, v.split(".")[:2])) <= wanted]
    if not known or wanted > tuple(map(int, kv.all_versions()[-1].split(".")[:2])):
        supported = f"{kv.all_versions()[0]} to {kv.all_versions()[-1]}"
        raise InputError("--kubernetes-version", f"must be a version from {supported}", desired)
    return str(known[-1])


class SchemaValidator:
    """Validates objects for one Kubernetes version; validators are built once per kind."""

    def __init__(self, kubernetes_version: str = DEFAULT_KUBERNETES_VERSION) -> None:
        self.version = _schema_version(kubernetes_version)
        self._folder = files("kubernetes_validate") / "kubernetes-json-schema"
        self._folder = self._folder / f"v{self.version}-local-strict"
        self._registry: Registry[Any] | None = None
        self._validators: dict[tuple[str, str], Any] = {}
        self._definitions: Any = None
        self._compiler: SchemaCompiler | None = None
        self._checks: dict[tuple[str, str], Check | None] = {}

    def _load(self, name: str) -> Any:
        if name == "_definitions.json":
            if self._definitions is None:
                self._definitions = json.loads((self._folder / name).read_text(encoding="utf-8"))
            return self._definitions
        return json.loads((self._folder / name).read_text(encoding="utf-8"))

    def _file(self, kind: str, api_version: str) -> str | None:
        group = _API_GROUP.sub(r"\1-", api_version)
        name = f"{kind.lower()}-{group}.json"
        return name if (self._folder / name).is_file() else None

    def _check(self, kind: str, api_version: str) -> Check | None:
        """The compiled check of a kind, or None (no schema, or one the compiler cannot take)."""
        key = (kind, api_version)
        if key not in self._checks:
            name = self._file(kind, api_version)
            if name is None:
                self._checks[key] = None
            else:
                if self._compiler is None:
                    self._compiler = SchemaCompiler(self._load("_definitions.json"))
                self._checks[key] = self._compiler.compile(self._load(name))
        return self._checks[key]

    def _validator(self, kind: str, api_version: str) -> Any:
        key = (kind, api_version)
        if key not in self._validators:
            name = self._file(kind, api_version)
            if name is None:
                self._validators[key] = None
            else:
                referencing = _module("referencing")
                if self._registry is None:
                    self._registry = (
                        referencing.Resource.from_contents(self._load("_definitions.json"))
                        @ referencing.Registry()
                    )
                schema = self._load(name)
                registry = referencing.Resource.from_contents(schema) @ self._registry
                self._validators[key] = _module("jsonschema").Draft202012Validator(
                    schema, registry=registry
                )
        return self._validators[key]

    def errors(self, obj: Mapping[str, Any]) -> list[str] | None:
        """Schema errors of `obj` (empty when valid), or None when its kind has no schema."""
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api_version, str):
            return ["the object has no kind or apiVersion"]
        check = self._check(kind, api_version)
        if check is not None and check(obj):
            return []
        validator = self._validator(kind, api_version)
        if validator is None:
            return None
        found = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
        return [
            f"{'.'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
            for error in found
        ]


@functools.lru_cache(maxsize=4)
def validator_for(kubernetes_version: str = DEFAULT_KUBERNETES_VERSION) -> SchemaValidator:
    """The process's one validator for `kubernetes_version`.

    Its schemas (the definitions file alone is over a megabyte of JSON) are read and
    compiled once, not once per check.
    """
    return SchemaValidator(kubernetes_version)
