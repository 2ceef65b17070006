"""The shared registry pull secret and `gitops-onboard pull-secret set`."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from generator import pull_secret as pullsecret
from generator import sops
from generator.cli import main
from generator.transaction import apply
from tests.helpers import AgeKey, tree_bytes


def _set(root: Path, monkeypatch: pytest.MonkeyPatch, token: str, *extra: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(token))
    argv = ["pull-secret", "set", "--infra", str(root), "--registry", "gitea.d-ma.be"]
    return main([*argv, "--username", "mathias", *extra])


def _config(root: Path, name: str = "registry-credentials") -> dict[str, object]:
    path = pullsecret.folder(root, name) / pullsecret.SECRET_FILE
    plain = YAML(typ="safe", pure=True).load(sops.decrypt_file(path, root=root))
    assert plain["type"] == "kubernetes.io/dockerconfigjson"
    assert "namespace" not in plain["metadata"]  # each service's kustomization sets it
    config = json.loads(plain["stringData"][".dockerconfigjson"])
    assert isinstance(config, dict)
    return config


def test_set_writes_the_folder_with_the_public_key_only(
    infra_repo: Path,
    age_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _set(infra_repo, monkeypatch, "t0k3n\n", "--name", "gitea-registry") == 0
    assert capsys.readouterr().out == (
        "pull-secrets/gitea-registry/secret.enc.yaml: written (mathias@gitea.d-ma.be)\n"
    )
    folder = pullsecret.folder(infra_repo, "gitea-registry")
    assert (folder / "kustomization.yaml").read_text() == pullsecret.kustomization_text(
        "gitea-registry"
    )
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    auth = base64.b64encode(b"mathias:t0k3n").decode()
    assert _config(infra_repo, "gitea-registry") == {
        "auths": {"gitea.d-ma.be": {"username": "mathias", "password": "t0k3n", "auth": auth}}
    }


def test_same_credentials_with_the_key_at_hand_change_no_byte(
    infra_repo: Path,
    age_private_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _set(infra_repo, monkeypatch, "t0k3n") == 0
    before = tree_bytes(infra_repo)
    assert _set(infra_repo, monkeypatch, "t0k3n\n") == 0
    assert capsys.readouterr().out.endswith(": unchanged (mathias@gitea.d-ma.be)\n")
    assert tree_bytes(infra_repo) == before
    assert _set(infra_repo, monkeypatch, "new-token") == 0
    assert _config(infra_repo)["auths"]["gitea.d-ma.be"]["password"] == "new-token"  # type: ignore[index]


def test_without_the_key_the_credentials_are_rewritten(
    infra_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _set(infra_repo, monkeypatch, "t0k3n") == 0
    path = pullsecret.folder(infra_repo, "registry-credentials") / pullsecret.SECRET_FILE
    before = path.read_bytes()
    assert _set(infra_repo, monkeypatch, "t0k3n") == 0
    assert capsys.readouterr().out.endswith(": written (mathias@gitea.d-ma.be)\n")
    assert path.read_bytes() != before  # cannot compare without the key: re-encrypted


@pytest.mark.parametrize(
    ("extra", "token", "message"),
    [
        (["--name", "Bad_Name"], "t", "--name: must be a DNS-1123 label"),
        (["--registry", "https://x"], "t", "--registry: must be a registry host"),
        (["--username", "a:b"], "t", "--username: must be a user name without ':'"),
        ([], "two\nlines", "token: must be one non-empty line"),
        ([], "", "token for mathias@gitea.d-ma.be: got no value on stdin"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    infra_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    token: str,
    message: str,
) -> None:
    before = tree_bytes(infra_repo)
    assert _set(infra_repo, monkeypatch, token, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gitops-onboard: error: {message}")
    assert "two" not in err
    assert tree_bytes(infra_repo) == before


def test_onboarding_adds_a_placeholder_the_build_can_decrypt(
    infra_repo: Path, age_private_key: AgeKey
) -> None:
    service_dir = infra_repo / "apps/web"
    service_dir.mkdir(parents=True)
    changes = pullsecret.plan_for_service(infra_repo, service_dir, "registry-credentials")
    assert [c.path.name for c in changes] == ["kustomization.yaml", "secret.enc.yaml"]
    apply(changes)
    assert _config(infra_repo) == {"auths": {}}
    assert pullsecret.is_placeholder(infra_repo, "registry-credentials")
    # Present already: onboarding another service changes nothing.
    other = infra_repo / "apps/api"
    other.mkdir()
    assert pullsecret.plan_for_service(infra_repo, other, "registry-credentials") == []
