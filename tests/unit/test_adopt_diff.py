"""The patches `adopt` writes, applied by an RFC 6902 implementation no one here wrote.

What could go wrong: a key holding `/` or `~` (every `app.kubernetes.io/name` label) written
into a JSON pointer unescaped patches the wrong field; `True` and `1` compare equal in Python
and a changed type is never patched; lists of another length patched item by item; two
builds whose generated Secrets differ in value only (their names carry another hash).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonpatch  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.adopt_diff import (
    compare,
    dump_yaml,
    json_patch,
    redacted,
    without_secret_name_hashes,
)
from generator.adopt_infer import split_image
from generator.k8s_yaml import load_all
from generator.kubectl import kustomize_build

KEYS = st.sampled_from(["a", "b", "app.kubernetes.io/name", "x~y", "~1", "", "on", "$patch"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "1", "y"]))
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=12,
)
OBJECTS = st.dictionaries(KEYS, TREES, max_size=4)


def typed(obj: Any) -> str:
    """Deep equality that tells `True` from `1` (JSON does), whatever the key order."""
    return json.dumps(obj, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(OBJECTS, OBJECTS)
def test_the_patch_turns_one_object_into_the_other(
    current: dict[str, Any], wanted: dict[str, Any]
) -> None:
    ops = json_patch(current, wanted)
    result = jsonpatch.apply_patch(current, ops)
    assert typed(result) == typed(wanted)
    assert (ops == []) == (typed(current) == typed(wanted))


@settings(max_examples=200, deadline=None)
@given(OBJECTS)
def test_what_adopt_writes_reads_back_as_the_same_object(obj: dict[str, Any]) -> None:
    assert load_all(dump_yaml(obj)) == [obj]


def test_a_changed_type_is_a_difference() -> None:
    before = [{"kind": "X", "metadata": {"name": "a"}, "spec": {"on": True}}]
    after = [{"kind": "X", "metadata": {"name": "a"}, "spec": {"on": 1}}]
    assert [d.line() for d in compare(before, after)] == ["X a: replace /spec/on"]


def test_images_split_into_registry_owner_name_and_tag() -> None:
    assert split_image("gitea.d-ma.be/mathias/supervisor:3f2a9c1") == (
        "gitea.d-ma.be",
        "mathias",
        "supervisor",
        "3f2a9c1",
    )
    assert split_image("registry.example.com:5000/fin/ledger") == (
        "registry.example.com:5000",
        "fin",
        "ledger",
        "latest",
    )
    assert split_image("ghcr.io/a/b/c:1@sha256:" + "0" * 64) == ("ghcr.io", "a/b", "c", "1")
    assert split_image("nginx:1.27") == ("docker.io", "library", "nginx", "1.27")


def _built(folder: Path, password: str) -> list[dict[str, Any]]:
    folder.mkdir()
    (folder / "kustomization.yaml").write_text(
        "resources: [deployment.yaml]\n"
        "secretGenerator:\n- {name: db, literals: [PASSWORD=" + password + "]}\n"
        "configMapGenerator:\n- {name: conf, literals: [MODE=a]}\n"
    )
    (folder / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {db: db-password1}}\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: web\n"
        "        envFrom: [{secretRef: {name: db}}, {configMapRef: {name: conf}}]\n"
    )
    return kustomize_build(folder)


def test_secrets_that_differ_in_value_only_compare_equal_without_their_hash(
    tmp_path: Path,
) -> None:
    """kustomize's own names: the Secret and the reference kustomize rewrote lose the hash,
    the generated ConfigMap keeps its hash, and a label is left as written."""
    one, other = _built(tmp_path / "one", "a"), _built(tmp_path / "other", "b")
    assert one != other
    assert compare(without_secret_name_hashes(one), without_secret_name_hashes(other)) != []
    keys_only = [
        [redacted(o) if o["kind"] == "Secret" else o for o in without_secret_name_hashes(objs)]
        for objs in (one, other)
    ]
    assert compare(*keys_only) == []
    secret, deployment = (
        next(o for o in keys_only[0] if o["kind"] == k) for k in ("Secret", "Deployment")
    )
    assert secret["metadata"]["name"] == "db-<hash>"
    env = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert env[0] == {"secretRef": {"name": "db-<hash>"}}
    assert env[1]["configMapRef"]["name"].startswith("conf-") and "<hash>" not in str(env[1])
    assert deployment["metadata"]["labels"] == {"db": "db-password1"}
