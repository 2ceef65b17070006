"""The decisive test: build every cluster, then decrypt every Secret as Flux would.

Flux's kustomize-controller runs the kustomize build first and decrypts the Secrets of its
output with the age key. Here the `sops` binary decrypts them, which is stricter: it also
verifies the MAC. Three services on two clusters, two of them sharing one namespace-less pull
secret; values with `$`, `${VAR}`, quotes, newlines and unicode; every value goes in through
the real CLI (stdin, a dotenv file on stdin, environment variables), never through argv.
The same run proves that a canary value never appears in plaintext anywhere.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from generator import audit, sops
from generator.age import generate, write_key_file
from generator.errors import InputError
from generator.kubectl import kustomize_build
from generator.onboard import init_infra
from tests.conftest import make_hermetic
from tests.helpers import K8S_VERSION, PROJECT, commit_all, git, snapshot_template

CANARY_STDIN = f"canary-stdin-{uuid.uuid4().hex}"
CANARY_DOTENV = f"canary-dotenv-{uuid.uuid4().hex}"
CANARY_ENV = f"canary-env-{uuid.uuid4().hex}"
CANARY_SET = f"canary-set-{uuid.uuid4().hex}"
CANARY_TOKEN = f"canary-token-{uuid.uuid4().hex}"
CANARIES = (CANARY_STDIN, CANARY_DOTENV, CANARY_ENV, CANARY_SET, CANARY_TOKEN)

SUPERVISOR = {
    # Read by Flux after its postBuild substitution would have run: ${...} must survive.
    "ANTHROPIC_API_KEY": f"sk-ant-{CANARY_STDIN}-$HOME-${{ANTHROPIC}}-'single'-\"double\"",
    "LITELLM_API_KEY": f"first line\n  second: line, indented\n{CANARY_SET}\n",
}
WEB = {
    "SESSION_SECRET": f"ünïcødé ✓ 秘密 🔑 {CANARY_DOTENV}",
    "DATABASE_URL": "postgres://app:p@ss w0rd$@db:5432/web?sslmode=require#frag",
}
WORKER = {"QUEUE_TOKEN": f"{CANARY_ENV}$$", "EMPTY_LATER": None}
GITEA_TOKEN = 'gitea-$TOKEN-"quoted"-${NOT_A_VAR}'


@dataclass
class Story:
    root: Path
    key_file: Path
    tmp: Path
    output: list[str] = field(default_factory=list)


def _cli(story: Story, *argv: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    """Run the real CLI in a child process, stdin piped (never a value in argv)."""
    for canary in CANARIES:
        assert all(canary not in arg for arg in argv)
    result = subprocess.run(
        [sys.executable, "-m", "generator.cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=story.root,
        check=False,
    )
    story.output += [result.stdout, result.stderr]
    assert result.returncode == 0, result.stderr
    return result.stdout


def _dotenv(values: dict[str, str]) -> str:
    rows = []
    for key, value in values.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        rows.append(f'{key}="{escaped}"')
    return "# secrets of web\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    base = tmp_path_factory.mktemp("story")
    with pytest.MonkeyPatch.context() as mp:
        home = base / "home"
        home.mkdir()
        make_hermetic(home, mp)
        # Every temporary file of this story (ours, sops', git's, Copier's) lands here.
        tmp = base / "tmp"
        tmp.mkdir()
        mp.setenv("TMPDIR", str(tmp))
        mp.setattr(tempfile, "tempdir", str(tmp))
        template = snapshot_template(base / "template", "v1.0.0")
        pair = generate()
        key_file = base / "keys" / "age.txt"
        write_key_file(key_file, pair.key_file_text)
        root = base / "infra"
        root.mkdir()
        git("init", "-q", "-b", "main", cwd=root)
        init_infra(
            root, ["koala", "iguana"], str(template), extra={"age_recipients": [pair.public]}
        )
        commit_all(root, "stamp infra")
        s = Story(root, key_file, tmp)
        tpl = ("--template", str(template))

        # The pull secret is given once, at infra set-up, with only the public key at hand.
        _cli(
            s,
            "pull-secret",
            "set",
            "--name",
            "gitea-registry",
            "--registry",
            "gitea.d-ma.be",
            "--username",
            "mathias",
            stdin=GITEA_TOKEN + "\n",
        )
        # supervisor: values as YAML (JSON) on stdin; LITELLM_API_KEY left for later.
        _cli(
            s,
            "onboard",
            *tpl,
            "--data-file",
            str(PROJECT / "examples/supervisor.yml"),
            "--secrets-from",
            "-",
            stdin=json.dumps({"ANTHROPIC_API_KEY": SUPERVISOR["ANTHROPIC_API_KEY"]}),
        )
        # web: a dotenv file on stdin; on both clusters; shares the supervisor's pull secret.
        _cli(
            s,
            "onboard",
            *tpl,
            "--service",
            "web",
            "--clusters",
            "koala,iguana",
            "--data",
            "registry=gitea.d-ma.be",
            "--data",
            "owner=mathias",
            "--data",
            "port=8080",
            "--data",
            "secret_keys=[SESSION_SECRET, DATABASE_URL]",
            "--data",
            "image_pull_secret=gitea-registry",
            "--secrets-from",
            "-",
            stdin=_dotenv(WEB),
        )
        # worker: from environment variables; another registry under the default name.
        _cli(
            s,
            "onboard",
            *tpl,
            "--service",
            "worker",
            "--clusters",
            "iguana",
            "--data",
            "registry=registry.example.com:5000",
            "--data",
            "owner=ops/jobs",
            "--data",
            "port=9000",
            "--data",
            "secret_keys=[QUEUE_TOKEN, EMPTY_LATER]",
            "--data",
            "volume_type=pvc",
            "--data",
            "volume_mount_path=/var/lib/worker",
            "--secrets-from-env",
            env={"QUEUE_TOKEN": str(WORKER["QUEUE_TOKEN"])},
        )
        _cli(
            s,
            "pull-secret",
            "set",
            "--registry",
            "registry.example.com:5000",
            "--username",
            "robot",
            stdin=CANARY_TOKEN,
        )
        # Later, with the private key: the value left out at onboarding, trailing newline kept.
        with_key = {"SOPS_AGE_KEY_FILE": str(key_file)}
        _cli(
            s,
            "secrets",
            "set",
            "supervisor",
            "LITELLM_API_KEY",
            "--keep-trailing-newline",
            stdin=SUPERVISOR["LITELLM_API_KEY"],
            env=with_key,
        )
        s.output.append(_cli(s, "secrets", "list", "supervisor", env=with_key))
        commit_all(root, "onboard supervisor, web and worker")
        yield s


def _auth(user: str, token: str) -> str:
    return base64.b64encode(f"{user}:{token}".encode()).decode()


EXPECTED: dict[str, dict[tuple[str, str], dict[str, Any]]] = {
    "koala": {
        ("supervisor", "supervisor-secrets"): SUPERVISOR,
        ("supervisor", "gitea-registry"): {"registry": ("gitea.d-ma.be", "mathias", GITEA_TOKEN)},
        ("web", "web-secrets"): WEB,
        ("web", "gitea-registry"): {"registry": ("gitea.d-ma.be", "mathias", GITEA_TOKEN)},
    },
    "iguana": {
        ("web", "web-secrets"): WEB,
        ("web", "gitea-registry"): {"registry": ("gitea.d-ma.be", "mathias", GITEA_TOKEN)},
        ("worker", "worker-secrets"): WORKER,
        ("worker", "registry-credentials"): {
            "registry": ("registry.example.com:5000", "robot", CANARY_TOKEN)
        },
    },
}


def _dump(obj: dict[str, Any]) -> str:
    from io import StringIO

    buffer = StringIO()
    YAML(typ="safe", pure=True).dump(obj, buffer)
    return buffer.getvalue()


def _decrypt_build(cluster_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Build like Flux, then decrypt every Secret of the output with the sops binary."""
    secrets = {}
    for obj in kustomize_build(cluster_dir):
        if obj["kind"] != "Secret":
            continue
        assert "sops" in obj, f"Secret {obj['metadata']['name']} is not encrypted"
        plain = YAML(typ="safe", pure=True).load(sops.decrypt_text(_dump(obj)))
        kubernetes_validate.validate(plain, K8S_VERSION, strict=True)
        secrets[(plain["metadata"]["namespace"], plain["metadata"]["name"])] = plain
    return secrets


@pytest.mark.parametrize("cluster", ["koala", "iguana"])
def test_every_secret_of_the_build_decrypts_to_the_values_set(
    story: Story, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(story.key_file))
    secrets = _decrypt_build(story.root / "clusters" / cluster)
    assert set(secrets) == set(EXPECTED[cluster])
    for ident, expected in EXPECTED[cluster].items():
        plain = secrets[ident]
        annotations = plain["metadata"]["annotations"]
        assert annotations["kustomize.toolkit.fluxcd.io/substitute"] == "disabled"
        if "registry" in expected:
            host, user, token = expected["registry"]
            assert plain["type"] == "kubernetes.io/dockerconfigjson"
            config = json.loads(plain["stringData"][".dockerconfigjson"])
            assert config == {
                "auths": {host: {"username": user, "password": token, "auth": _auth(user, token)}}
            }
            continue
        service = ident[1].removesuffix("-secrets")
        assert plain["type"] == "Opaque"
        for key, value in expected.items():
            got = plain["stringData"][key]
            if value is None:
                assert got.startswith("CHANGE-ME") and f"secrets set {service} {key}" in got
            else:
                assert got == value


def test_deployments_read_the_secrets_and_pull_with_the_shared_secret(story: Story) -> None:
    objects = kustomize_build(story.root / "clusters/koala")
    pulls = {}
    for obj in objects:
        if obj["kind"] == "Deployment":
            pod = obj["spec"]["template"]["spec"]
            assert pod["containers"][0]["envFrom"] == [
                {"secretRef": {"name": f"{obj['metadata']['name']}-secrets"}}
            ]
            pulls[obj["metadata"]["namespace"]] = pod["imagePullSecrets"]
    assert pulls == {
        "supervisor": [{"name": "gitea-registry"}],
        "web": [{"name": "gitea-registry"}],
    }
    # One source of truth: both services list the same encrypted file.
    assert len(list((story.root / "pull-secrets").glob("*/secret.enc.yaml"))) == 2


def test_the_canary_values_appear_nowhere_in_plaintext(story: Story) -> None:
    history = subprocess.run(
        ["git", "log", "-p", "--all", "--format=%H %B"],
        cwd=story.root,
        capture_output=True,
        check=True,
    ).stdout
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=story.root,
        capture_output=True,
        check=True,
    ).stdout
    files = {
        path: path.read_bytes()
        for folder in (story.root, story.tmp)
        for path in folder.rglob("*")
        if path.is_file()
    }
    output = "".join(story.output).encode()
    for canary in CANARIES:
        forms = {canary.encode(), base64.b64encode(canary.encode())}
        forms.add(_auth("robot", canary).encode())
        for form in forms:
            assert form not in history
            assert form not in objects
            assert form not in output, "a command printed a secret value"
            leaked = [str(p) for p, data in files.items() if form in data]
            assert not leaked, f"plaintext in {leaked}"
    assert "LITELLM_API_KEY" in output.decode(), "secrets list prints names"


def test_the_story_repo_passes_the_audit_but_for_the_value_left_for_later(story: Story) -> None:
    assert [(f.file, f.problem, f.fix) for f in audit.audit(story.root)] == [
        (
            "apps/worker/secrets.enc.yaml",
            "stringData.EMPTY_LATER still holds the placeholder onboarding wrote",
            "gitops-onboard secrets set worker EMPTY_LATER",
        )
    ]


def test_decrypting_the_build_fails_without_the_private_key(story: Story) -> None:
    with pytest.raises(sops.SopsError) as caught:
        _decrypt_build(story.root / "clusters/koala")
    assert caught.value.reason == "no-private-key"
    assert "SOPS_AGE_KEY_FILE" in str(caught.value) and "SOPS_AGE_KEY " in str(caught.value)


def test_without_mac_only_encrypted_the_same_flow_fails_the_mac_check(
    story: Story, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(story.key_file))
    root = tmp_path / "infra"
    shutil.copytree(story.root, root, ignore=shutil.ignore_patterns(".git"))
    # The same shared pull secret, encrypted by a rule without mac_only_encrypted.
    config = root / ".sops.yaml"
    rule = config.read_text()
    assert "    mac_only_encrypted: true\n" in rule
    config.write_text(rule.replace("    mac_only_encrypted: true\n", ""))
    secret = root / "pull-secrets/gitea-registry/secret.enc.yaml"
    plaintext = sops.decrypt_file(secret, root=root)
    secret.write_text(
        sops.encrypt(plaintext, root=root, filename="pull-secrets/gitea-registry/secret.enc.yaml")
    )
    assert "mac_only_encrypted" not in secret.read_text()
    # The file itself is fine: it decrypts as written ...
    assert "gitea.d-ma.be" in sops.decrypt_file(secret, root=root)
    # ... but not once kustomize has placed it in a namespace and re-serialised it.
    shared = [
        obj
        for obj in kustomize_build(root / "clusters/koala")
        if obj["metadata"]["name"] == "gitea-registry"
    ]
    assert {obj["metadata"]["namespace"] for obj in shared} == {"supervisor", "web"}
    for obj in shared:
        with pytest.raises(sops.SopsError) as caught:
            sops.decrypt_text(_dump(obj))
        assert caught.value.reason == "mac-mismatch"
        assert "MAC mismatch" in str(caught.value) and "\n" not in str(caught.value)
    # The audit names the cause.
    findings = [str(f) for f in audit.audit(root)]
    assert any("mac_only_encrypted" in f and "gitea-registry" in f for f in findings)


def test_onboarding_refuses_a_repo_without_sops_config(tmp_path: Path, template_repo: Path) -> None:
    root = tmp_path / "bare"
    (root / "clusters/koala").mkdir(parents=True)
    (root / "clusters/koala/kustomization.yaml").write_text("resources: []\n")
    from generator.onboard import onboard_service

    with pytest.raises(InputError, match=r"\.sops\.yaml: is missing"):
        onboard_service(
            root,
            {
                "service": "web",
                "registry": "r.example.com",
                "owner": "o",
                "port": 80,
                "clusters": ["koala"],
                "secret_keys": ["TOKEN"],
            },
            str(template_repo),
        )
    assert not (root / "apps").exists()
