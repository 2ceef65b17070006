"""Object-by-object comparison of two kustomize builds, and the patches that close the gap.

Pure functions over parsed objects (no files, no tools). An object is known by its key
(`kind`, `namespace`, `name`, API group); two builds compare key by key, then field by field.
`json_patch` gives the RFC 6902 operations that turn one object into the other: maps are
compared key by key, lists of the same length item by item, and any other list is replaced
whole, so a patch never depends on a merge key kustomize would have to guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "Difference",
    "ObjectKey",
    "compare",
    "dump_yaml",
    "is_encrypted",
    "json_patch",
    "key_of",
    "redacted",
    "without_secret_name_hashes",
]

ObjectKey = tuple[str, str, str, str]  # group, kind, namespace, name


def key_of(obj: Mapping[str, Any]) -> ObjectKey:
    """The identity of a built object."""
    api = str(obj.get("apiVersion", ""))
    group = api.rpartition("/")[0] if "/" in api else ""
    meta = obj.get("metadata") or {}
    return (
        group,
        str(obj.get("kind", "")),
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
    )


def show_key(key: ObjectKey) -> str:
    """`Kind namespace/name` for messages."""
    _, kind, namespace, name = key
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


def is_encrypted(obj: Mapping[str, Any]) -> bool:
    """True for a Secret encrypted by sops (its `sops` metadata survives the build)."""
    return obj.get("kind") == "Secret" and isinstance(obj.get("sops"), Mapping)


def redacted(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A Secret without its values and sops metadata: what compares without the private key."""
    out = {key: value for key, value in obj.items() if key != "sops"}
    for field in ("data", "stringData"):
        if isinstance(out.get(field), Mapping):
            out[field] = dict.fromkeys(sorted(out[field]), "<value>")
    return out


# kustomize ends a generated object's name with 10 characters of a hash of its content: hex,
# with 0, 1, 3, a and e written as g, h, k, m and t.
_NAME_HASH = re.compile(r"-[2456789bcdfghkmt]{10}\Z")
NAME_HASH = "-<hash>"


def _renamed(value: Any, names: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, Mapping):
        return {key: _renamed(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    return value


def without_secret_name_hashes(objects: Sequence[Mapping[str, Any]]) -> list[Any]:
    """`objects` with the hash kustomize appends to a Secret's name written as `-<hash>`.

    Everywhere: in the Secret's name and in every string equal to it (the references
    kustomize rewrote). Two builds whose Secrets differ only in their values (which change
    the hash) then compare equal by key names.
    """
    names: dict[str, str] = {}
    for obj in objects:
        name = (obj.get("metadata") or {}).get("name") if obj.get("kind") == "Secret" else None
        if isinstance(name, str) and (match := _NAME_HASH.search(name)):
            names[name] = name[: match.start()] + NAME_HASH
    return [_renamed(obj, names) for obj in objects] if names else list(objects)


@dataclass(frozen=True)
class Difference:
    """One way the built output after adopting would differ from the output before."""

    key: ObjectKey
    what: str
    cluster: str = ""

    def line(self) -> str:
        """One line for the user."""
        where = f"cluster {self.cluster}: " if self.cluster else ""
        return f"{where}{show_key(self.key)}: {self.what}"


def _pointer(path: Sequence[str | int]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def json_patch(current: Any, wanted: Any, path: tuple[str | int, ...] = ()) -> list[dict[str, Any]]:
    """RFC 6902 operations that turn `current` into `wanted`."""
    if isinstance(current, Mapping) and isinstance(wanted, Mapping):
        ops: list[dict[str, Any]] = []
        for key in current:
            if key not in wanted:
                ops.append({"op": "remove", "path": _pointer((*path, key))})
        for key, value in wanted.items():
            if key not in current:
                ops.append({"op": "add", "path": _pointer((*path, key)), "value": value})
            else:
                ops.extend(json_patch(current[key], value, (*path, key)))
        return ops
    if (
        isinstance(current, list)
        and isinstance(wanted, list)
        and len(current) == len(wanted)
        and current
    ):
        return [
            op
            for index, (old, new) in enumerate(zip(current, wanted, strict=True))
            for op in json_patch(old, new, (*path, index))
        ]
    if current == wanted and type(current) is type(wanted):
        return []
    return [{"op": "replace", "path": _pointer(path), "value": wanted}]


def _comparable(obj: Mapping[str, Any], other: Mapping[str, Any] | None) -> dict[str, Any]:
    if is_encrypted(obj) or (other is not None and is_encrypted(other)):
        return redacted(obj)
    return dict(obj)


def compare(
    before: Iterable[Mapping[str, Any]],
    after: Iterable[Mapping[str, Any]],
    cluster: str = "",
) -> list[Difference]:
    """Every difference between two builds, object by object, then field by field.

    A Secret that is encrypted on one side compares by its keys only (its values are
    ciphertext); whoever holds the private key compares the decrypted values.
    """
    old = {key_of(obj): obj for obj in before}
    new = {key_of(obj): obj for obj in after}
    found: list[Difference] = []
    for key in sorted(old.keys() - new.keys()):
        found.append(Difference(key, "missing after adopting", cluster))
    for key in sorted(new.keys() - old.keys()):
        found.append(Difference(key, "new after adopting", cluster))
    for key in sorted(old.keys() & new.keys()):
        a, b = _comparable(new[key], old[key]), _comparable(old[key], new[key])
        for op in json_patch(b, a):
            found.append(Difference(key, f"{op['op']} {op['path']}", cluster))
    return found


class _Dumper(yaml.SafeDumper):
    """Every string double-quoted: Kubernetes reads `on`, `y`, `1e3` as non-strings."""


def _quoted(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')


_PLAIN_KEY = re.compile(r"[A-Za-z$][A-Za-z0-9_.$/-]*")
_YAML11_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _mapping(dumper: yaml.SafeDumper, data: Mapping[Any, Any]) -> yaml.MappingNode:
    """Keys plain where YAML 1.1 reads them as the same string; values stay quoted."""
    node = dumper.represent_mapping("tag:yaml.org,2002:map", data.items())
    for key, _ in node.value:
        text = key.value if isinstance(key, yaml.ScalarNode) else ""
        if _PLAIN_KEY.fullmatch(text) and text.lower() not in _YAML11_WORDS:
            key.style = None
    return node


_Dumper.add_representer(str, _quoted)
_Dumper.add_representer(dict, _mapping)


def dump_yaml(data: Any) -> str:
    """YAML text of `data`, keys in their order, every string double-quoted."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 30)
