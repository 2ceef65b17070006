"""`copier update` from a tagged v1 to v2 of the template never touches encrypted files."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.copier_run import copying as copier_api
from generator.onboard import init_infra, onboard_service
from tests.helpers import AgeKey, commit_all, git, load_yaml, snapshot_template, tree_bytes

pytestmark = pytest.mark.slow


def _release_v2(template: Path) -> None:
    """v2 changes the deployment and the service kustomization, as a template fix would."""
    deployment = template / "template/service/deployment.yaml.jinja"
    text = deployment.read_text()
    assert "  revisionHistoryLimit: 3\n" in text
    deployment.write_text(
        text.replace("  revisionHistoryLimit: 3\n", "  revisionHistoryLimit: 5\n")
    )
    kustomization = template / "template/service/kustomization.yaml.jinja"
    kustomization.write_text(
        kustomization.read_text().replace("kind: Kustomization\n", "kind: Kustomization\n# v2\n", 1)
    )
    commit_all(template, "v2: keep five revisions")
    git("tag", "v2.0.0", cwd=template)


def test_update_to_v2_keeps_every_encrypted_byte(
    tmp_path: Path, age_key: AgeKey, capfd: pytest.CaptureFixture[str]
) -> None:
    template = snapshot_template(tmp_path / "template", "v1.0.0")
    root = tmp_path / "infra"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    init_infra(root, ["koala"], str(template), extra={"age_recipients": [age_key.public]})
    onboard_service(
        root,
        {
            "service": "web",
            "registry": "r.example.com",
            "owner": "o",
            "port": 80,
            "clusters": ["koala"],
            "secret_keys": ["TOKEN", "LATER"],
        },
        str(template),
        secret_values={"TOKEN": "v1-value"},
    )
    commit_all(root, "onboard web at v1")
    encrypted = {
        path: path.read_bytes()
        for path in (
            root / "apps/web/secrets.enc.yaml",
            root / "pull-secrets/registry-credentials/secret.enc.yaml",
        )
    }
    before = tree_bytes(root)
    _release_v2(template)

    capfd.readouterr()
    # v2, and a secret key declared on the way: the existing file is still not touched.
    copier_api.update(
        root / "apps/web", vcs_ref="v2.0.0", data={"secret_keys": ["TOKEN", "LATER", "NEW_KEY"]}
    )
    assert (
        "apps/web/secrets.enc.yaml: no value yet for NEW_KEY; set each with "
        "`gitops-onboard secrets set web KEY`" in capfd.readouterr().err
    )
    commit_all(root, "update web to v2")
    copier_api.update(root, vcs_ref="v2.0.0")

    for path, data in encrypted.items():
        assert path.read_bytes() == data, f"copier update touched {path}"
    after = tree_bytes(root)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {
        ".copier-answers.yml",
        ".gitea/workflows/check.yml",  # installs gitops-onboard at the stamped version
        ".gitea/workflows/promote.yml",  # the same
        "apps/web/.copier-answers.yml",
        "apps/web/deployment.yaml",
        "apps/web/kustomization.yaml",
    }
    assert load_yaml(root / "apps/web/deployment.yaml")["spec"]["revisionHistoryLimit"] == 5
    assert load_yaml(root / "apps/web/.copier-answers.yml")["_commit"] == "v2.0.0"
    assert "  - secrets.enc.yaml\n" in (root / "apps/web/kustomization.yaml").read_text()
