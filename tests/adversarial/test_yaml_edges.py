"""YAML at the edges: cluster files as people really write them, and env values YAML misreads.

A platform team's `clusters/<c>/kustomization.yaml` may come from a Windows editor (CRLF, a
byte-order mark, no final newline) or be written with a flow list and comments around it.
Onboarding adds one entry and offboarding takes it out again; neither may touch any other
byte. An env value is free text: whatever a user types must reach the container exactly,
and `check` must read kustomize's output the way kustomize and Kubernetes do.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import k8s_yaml, overlays
from generator.check import check
from generator.cli import main
from generator.kubectl import kustomize_build_text
from generator.kustomization import add_resource, remove_resource, resources
from generator.yamltext import yaml_str
from tests.helpers import WEB_ARGS, build_and_validate, commit_all, find

API = "apiVersion: kustomize.config.k8s.io/v1beta1"
TEAM_CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: team\n  namespace: default\n"
    "data:\n  owner: platform\n"
)

# (story, the cluster file before onboarding, the file after onboarding web)
CLUSTER_FILES = [
    (
        "crlf",
        f"# koala\r\n{API}\r\nkind: Kustomization\r\nresources:\r\n  - team.yaml\r\n",
        f"# koala\r\n{API}\r\nkind: Kustomization\r\nresources:\r\n  - team.yaml\r\n"
        "  - ../../apps/web\r\n",
    ),
    (
        "crlf-no-final-newline",
        f"{API}\r\nkind: Kustomization\r\nresources:\r\n- team.yaml",
        f"{API}\r\nkind: Kustomization\r\nresources:\r\n- team.yaml\r\n- ../../apps/web",
    ),
    (
        "crlf-bom-empty-list",
        f"\ufeff{API}\r\nkind: Kustomization\r\nresources: []\r\n",
        f"\ufeff{API}\r\nkind: Kustomization\r\nresources:\r\n- ../../apps/web\r\n",
    ),
    (
        "flow-list-with-comments",
        f"{API}\nkind: Kustomization\nresources: [team.yaml] # hand-kept\n# the next field\n"
        "commonAnnotations:\n  team: platform\n",
        f"{API}\nkind: Kustomization\nresources: [team.yaml, ../../apps/web] # hand-kept\n"
        "# the next field\ncommonAnnotations:\n  team: platform\n",
    ),
    (
        "empty-flow-list-then-comment-then-field",
        f"{API}\nkind: Kustomization\nresources: []\n# keep me\n"
        "commonAnnotations:\n  team: platform\n",
        f"{API}\nkind: Kustomization\nresources: [../../apps/web]\n# keep me\n"
        "commonAnnotations:\n  team: platform\n",
    ),
    (
        "multi-line-flow-list",
        f"{API}\r\nkind: Kustomization\r\nresources: [\r\n  team.yaml, # the team's map\r\n]\r\n"
        "# after the list\r\ncommonAnnotations:\r\n  team: platform\r\n",
        f"{API}\r\nkind: Kustomization\r\nresources: [\r\n  team.yaml, ../../apps/web, # the team's"
        " map\r\n]\r\n# after the list\r\ncommonAnnotations:\r\n  team: platform\r\n",
    ),
]


def _write_cluster(root: Path, text: str) -> Path:
    folder = root / "clusters/koala"
    (folder / "team.yaml").write_text(TEAM_CONFIGMAP)
    path = folder / "kustomization.yaml"
    path.write_bytes(text.encode("utf-8"))
    commit_all(root, "the team's own koala file")
    return path


@pytest.mark.parametrize(
    ("before", "after"),
    [pytest.param(before, after, id=story) for story, before, after in CLUSTER_FILES],
)
def test_onboard_and_offboard_change_only_the_one_entry_line(
    infra_repo: Path, before: str, after: str
) -> None:
    """Was: a CRLF file came back all LF, and a flow list lost the comments on and after it."""
    path = _write_cluster(infra_repo, before)

    assert main(["onboard", "--infra", str(infra_repo), *WEB_ARGS]) == 0
    assert path.read_bytes() == after.encode("utf-8")
    built = build_and_validate(path.parent)
    find(built, "Deployment", "web")
    if "team.yaml" in before:
        find(built, "ConfigMap", "team")

    assert main(["offboard", "--infra", str(infra_repo), "web", "--yes"]) == 0
    assert path.read_bytes() == before.encode("utf-8")


# ── the editor on its own: inputs a property test once found, pinned ─────────────────────

EDITS = [
    # (story, text, path added, text after the add)
    (
        "comment-after-empty-flow-list-before-a-field",
        "resources: []\n# keep me\nnamePrefix: x\n",
        "a",
        "resources: [a]\n# keep me\nnamePrefix: x\n",
    ),
    (
        "inline-comment-on-a-flow-list",
        "kind: Kustomization\nresources: [a, b] # note\n# after\nimages: []\n",
        "c",
        "kind: Kustomization\nresources: [a, b, c] # note\n# after\nimages: []\n",
    ),
    (
        "crlf-block-list",
        "kind: Kustomization\r\nresources:\r\n- a\r\n",
        "b",
        "kind: Kustomization\r\nresources:\r\n- a\r\n- b\r\n",
    ),
    (
        "cr-only-line-ends",
        "kind: Kustomization\rresources:\r- a\r",
        "b",
        "kind: Kustomization\rresources:\r- a\r- b\r",
    ),
    (
        "no-resources-and-no-final-newline",
        "kind: Kustomization\nnamePrefix: x",
        "a",
        "kind: Kustomization\nnamePrefix: x\nresources:\n- a",
    ),
    (
        "block-list-without-final-newline",
        "kind: Kustomization\r\nresources:\r\n  - a  # first",
        "b",
        "kind: Kustomization\r\nresources:\r\n  - a  # first\r\n  - b",
    ),
    (
        "quoted-flow-item-holding-brackets-and-commas",
        "kind: Kustomization\nresources: ['a], [b', \"c, d\"]  # x\n",
        "e",
        "kind: Kustomization\nresources: ['a], [b', \"c, d\", e]  # x\n",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "added"),
    [pytest.param(text, path, added, id=story) for story, text, path, added in EDITS],
)
def test_add_then_remove_is_surgical_and_exactly_undone(text: str, path: str, added: str) -> None:
    """Was: comments beside or after a flow list were dropped, CRLF and CR turned into LF."""
    assert add_resource(text, path) == added
    assert add_resource(added, path) == added
    assert resources(added) == [*resources(text), path]
    assert remove_resource(added, path) == text


@pytest.mark.parametrize("null", ["~", "null", "", "~  # none yet"])
def test_an_explicit_null_list_takes_an_entry_and_stays_valid(null: str) -> None:
    """Was: `- a` went on the line after `resources: ~`, which is not YAML."""
    text = f"kind: Kustomization\nresources: {null}\nnamePrefix: x\n"
    added = add_resource(text, "a")
    assert resources(added) == ["a"]
    assert "namePrefix: x\n" in added and ("# none yet" in added) == ("# none yet" in text)
    assert resources(remove_resource(added, "a")) == []


# ── env values that YAML reads as something else ──────────────────────────────────────────

NASTY = [
    "<<",
    "=",
    "y",
    "n",
    "yes",
    "No",
    "on",
    "OFF",
    "true",
    "~",
    "null",
    "",
    "0o17",
    "017",
    "0x1F",
    "1e3",
    "1_000",
    ".inf",
    "12:30",
    "2001-12-14",
    "!x",
    "!!binary",
    "&a",
    "*a",
    "%",
    "@",
    "`",
    "|",
    ">",
    "{",
    "}",
    "[",
    ",",
    "#",
    "a #b",
    ": ",
    "a: b",
    "? x",
    "- y",
    "<<: *x",
    " leading",
    "trailing ",
    "'",
    '"',
    "\\",
    "é",
    "日本",
    "🙂",
]


PROBE = "KUBECTL_OUTPUT_PROBE"


def _kubernetes_env(deployment_yaml: str) -> list[dict[str, Any]]:
    """The container env as Kubernetes' own decoder reads the manifest (kubectl, offline).

    `kubectl set env --local` prints the object it decoded only when it changes it, so it
    sets one more variable, which is left out again.
    """
    done = subprocess.run(
        ["kubectl", "set", "env", "--local", "-f", "-", "-o", "json", f"{PROBE}=1"],
        input=deployment_yaml,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    [container] = json.loads(done.stdout)["spec"]["template"]["spec"]["containers"]
    return [e for e in container["env"] if e["name"] != PROBE]


def _deployment_document(stream: str) -> str:
    [doc] = [d for d in stream.split("\n---\n") if "\nkind: Deployment\n" in "\n" + d]
    return doc


def _onboard_with_env(root: Path, tmp_path: Path, env: dict[str, str]) -> None:
    data = tmp_path / "answers.json"
    # A public image: no pull secret, whose placeholder `check` would rightly report.
    answers = {"env": env, "image_pull_secret": ""}
    data.write_text(json.dumps(answers, ensure_ascii=False), encoding="utf-8")
    assert main(["onboard", "--infra", str(root), *WEB_ARGS, "--data-file", str(data)]) == 0
    commit_all(root, "web")


def _assert_env_reaches_the_container(root: Path, env: dict[str, str]) -> None:
    cluster = root / "clusters/koala"
    # kustomize builds, and every object validates against the Kubernetes schema
    objects = build_and_validate(cluster)
    [container] = find(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert {e["name"]: e["value"] for e in container["env"]} == env
    # Kubernetes reads the same values from kustomize's output
    shown = _kubernetes_env(_deployment_document(kustomize_build_text(cluster)))
    assert {e["name"]: e.get("value", "") for e in shown} == env
    report = check(root, offline=True)
    assert report.findings == ()


def test_every_nasty_env_value_reaches_the_container_and_check_is_green(
    infra_repo: Path, tmp_path: Path
) -> None:
    """Was: `<<` or `=` made `check` report "built to invalid YAML" for a Deployment that
    kustomize built and Kubernetes reads fine (PyYAML resolves them as YAML 1.1 tags)."""
    env = {f"V{i}": value for i, value in enumerate(NASTY)}
    _onboard_with_env(infra_repo, tmp_path, env)
    _assert_env_reaches_the_container(infra_repo, env)


nasty_values = st.one_of(
    st.sampled_from(NASTY),
    st.lists(st.sampled_from(NASTY), min_size=2, max_size=3).map("".join),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=6),
)


# Each example onboards a service and builds it (seconds): a fixed count in every profile.
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=st.lists(nasty_values, min_size=1, max_size=8))
def test_drawn_env_values_reach_the_container_and_check_is_green(
    infra_repo: Path, tmp_path_factory: pytest.TempPathFactory, values: list[str]
) -> None:
    """Any single-line value a user may give survives onboarding, kustomize and `check`."""
    root = tmp_path_factory.mktemp("drawn") / "infra"
    shutil.copytree(infra_repo, root, symlinks=True)
    env = {f"E{i}": value for i, value in enumerate(values)}
    _onboard_with_env(root, tmp_path_factory.mktemp("answers"), env)
    _assert_env_reaches_the_container(root, env)


@pytest.mark.parametrize(
    ("plain", "expected"),
    [
        ("<<", "<<"),
        ("=", "="),
        ("yes", "yes"),
        ("off", "off"),
        ("2001-12-14", "2001-12-14"),
        ("12:30", "12:30"),
        ("~", None),
        ("", None),
        ("True", True),
        ("0o17", 15),
        ("0x1F", 31),
        ("1_000", 1000),
        ("1e3", 1000.0),
        ("-.inf", float("-inf")),
    ],
)
def test_kustomize_output_is_typed_as_kustomize_types_it(plain: str, expected: object) -> None:
    """go-yaml v3 (kustomize) types plain scalars by YAML 1.2; YAML 1.1 readers disagree."""
    [doc] = k8s_yaml.load_all(f"value: {plain}\nbase: &b {{x: 1}}\nmerged: {{<<: *b, y: 2}}\n")
    assert doc["value"] == expected and type(doc["value"]) is type(expected)
    assert doc["merged"] == {"x": 1, "y": 2}  # `<<` as a key still merges


DEPLOYMENT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
    "  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n"
    "      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n"
    "          image: registry.example.com/team/web\n"
)


@pytest.mark.parametrize(
    "tag", ["1.10", "1e3", "0755", "1_000", "yes", "off", "20240101", "v1.2.3", "1.0-rc.1"]
)
def test_a_hand_written_tag_is_carried_as_written(tmp_path: Path, tag: str) -> None:
    """A valid image tag that YAML reads as a number or a bool keeps its text.

    kustomize refuses `newTag: 1.10` unquoted (a number is no string), but whoever wrote it
    meant the tag 1.10: when the tag moves (into an overlay, to another cluster), it must
    become `"1.10"` — which kustomize deploys as written — and never `"1.1"`.
    """
    image = "registry.example.com/team/web"
    written = f"images:\n  - name: {image}\n    newTag: {tag}\n    digest: sha256:{'a' * 64}\n"
    found = overlays.deployed_in(written, image)
    assert found == overlays.Deployed(tag, f"sha256:{'a' * 64}")
    (tmp_path / "deployment.yaml").write_text(DEPLOYMENT)
    (tmp_path / "kustomization.yaml").write_text(
        f"resources: [deployment.yaml]\nimages:\n  - name: {image}\n"
        f"    newTag: {yaml_str(found.tag)}\n"
    )
    [deployment] = k8s_yaml.load_all(kustomize_build_text(tmp_path))
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{image}:{tag}"
