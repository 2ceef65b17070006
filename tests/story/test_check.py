"""`gitops-onboard check`: each thing it must catch, one per test, and a clean repo passing."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import pull_secret as pullsecret
from generator import service_secrets as secrets
from generator.check import Finding, check, find_copies
from generator.check.drift import take_cd_owned_lines
from generator.cli import main
from generator.copier_run import copying as copier_api
from generator.copier_run.render import TemplateRenderer
from generator.kustomization import add_resource, remove_resource, set_image_tag
from generator.onboard import init_infra, onboard_service
from tests.app_world import APPS
from tests.helpers import PROJECT, AgeKey, commit_all, copier_cli, git

WEB = {"service": "web", "registry": "gitea.example.com", "owner": "team", "clusters": ["koala"]}
API = {
    "service": "api",
    "registry": "gitea.example.com",
    "owner": "team",
    "port": 9000,
    "clusters": ["koala", "iguana"],
    "volume_type": "pvc",
    "volume_mount_path": "/data",
    "volume_size": "2Gi",
    "probe_path": "/healthz",
    "env": {"MODE": "yes", "RATE": "1e3"},
}


@pytest.fixture(scope="module")
def stamped(tmp_path_factory: pytest.TempPathFactory, pristine_infra: Path) -> Path:
    """An infra repo (koala, iguana) with services web and api, committed."""
    root = tmp_path_factory.mktemp("stamped") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    onboard_service(root, WEB)
    onboard_service(root, API)
    # Onboarding leaves the shared pull secret empty; the check fails until it is set.
    pullsecret.set_credentials(root, "registry-credentials", "gitea.example.com", "ci", "t0k")
    commit_all(root, "web and api")
    return root


@pytest.fixture
def infra(tmp_path: Path, stamped: Path) -> Path:
    root = tmp_path / "infra"
    shutil.copytree(stamped, root, symlinks=True)
    return root


def findings(root: Path, **kwargs: Any) -> list[Finding]:
    return list(check(root, offline=True, **kwargs).findings)


def only(found: list[Finding], kind: str) -> list[Finding]:
    return [f for f in found if f.check == kind]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    return code, capsys.readouterr().out


def add_hand_made_app(root: Path, name: str, manifest: str, cluster: str = "koala") -> None:
    folder = root / "apps" / name
    folder.mkdir(parents=True)
    (folder / "manifest.yaml").write_text(manifest)
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - manifest.yaml\n"
    )
    (root / ".gitops-onboard.yaml").write_text(f"hand_made:\n  - apps/{name}\n")
    path = root / "clusters" / cluster / "kustomization.yaml"
    path.write_text(add_resource(path.read_text(), f"../../apps/{name}"))


def test_fresh_repo_is_clean_and_exits_0(infra: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "--offline", str(infra))
    assert (code, out.splitlines()[0]) == (
        0,
        f"check: all current (3 stamped copies, 2 clusters in {infra})",
    )
    code, out = run_cli(capsys, "--offline", "--format", "json", str(infra))
    payload = json.loads(out)
    assert code == 0 and payload["ok"] is True and payload["findings"] == []
    assert sorted(c["path"] for c in payload["copies"]) == [".", "apps/api", "apps/web"]
    assert {c["kind"] for c in payload["copies"]} == {"infra", "service"}


def test_freshly_onboarded_reference_service_is_clean_once_its_values_are_set(
    infra: Path, template_repo: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = yaml.safe_load((PROJECT / "examples/supervisor.yml").read_text())
    onboard_service(infra, answers, str(template_repo))
    # Onboarding wrote its two secret keys encrypted (placeholders until they are set).
    text = (infra / "apps/supervisor/secrets.enc.yaml").read_text()
    assert "ANTHROPIC_API_KEY" in text and "LITELLM_API_KEY" in text and "sops:" in text
    # Placeholders must not reach Flux: the check names each one and its command.
    report = check(infra, offline=True)
    assert {(f.path, f.fix) for f in report.findings} == {
        ("apps/supervisor/secrets.enc.yaml", f"gitops-onboard secrets set supervisor {key}")
        for key in ("ANTHROPIC_API_KEY", "LITELLM_API_KEY")
    } | {
        (
            "pull-secrets/gitea-registry/secret.enc.yaml",
            "gitops-onboard pull-secret set --name gitea-registry --registry HOST --username USER",
        )
    }
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    for key in ("ANTHROPIC_API_KEY", "LITELLM_API_KEY"):
        secrets.set_secret(infra, "supervisor", key, f"{key.lower()}-value")
    pullsecret.set_credentials(infra, "gitea-registry", "gitea.d-ma.be", "mathias", "t0k")
    report = check(infra, offline=True)
    assert report.findings == ()
    assert "apps/supervisor" in [c.path for c in report.copies]
    assert len(report.clusters) == 2


def test_hand_edited_replicas_is_drift_with_a_diff_and_the_fix_restores_it(
    infra: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = infra / "apps/web/deployment.yaml"
    deployment.write_text(deployment.read_text().replace("replicas: 1\n", "replicas: 3\n", 1))
    code, out = run_cli(capsys, "--offline", str(infra))
    assert code == 1
    [drift] = findings(infra)
    assert (drift.check, drift.path) == ("drift", "apps/web/deployment.yaml")
    assert "-  replicas: 1\n+  replicas: 3\n" in drift.diff
    assert "apps/web/deployment.yaml" in out and "+  replicas: 3" in out
    # The fix the check prints, run as printed, makes the copy current again.
    command = drift.fix.split("`")[1]
    assert command.startswith("copier recopy --trust")
    assert copier_cli(*shlex.split(command)[1:], cwd=infra) == 0
    assert findings(infra) == []


def test_deleted_service_yaml_is_reported_missing(infra: Path) -> None:
    (infra / "apps/web/service.yaml").unlink()
    found = findings(infra)
    [drift] = only(found, "drift")
    assert (drift.path, drift.message) == (
        "apps/web/service.yaml",
        "is missing; the template (v1.0.0) renders it",
    )
    [build] = only(found, "build")
    assert build.path == "clusters/koala" and "service.yaml" in build.message


def test_service_missing_from_one_of_its_clusters(infra: Path) -> None:
    path = infra / "clusters/iguana/kustomization.yaml"
    path.write_text(remove_resource(path.read_text(), "../../apps/api"))
    [finding] = findings(infra)
    assert (finding.check, finding.path) == ("cluster", "apps/api")
    assert finding.message == (
        "is not listed in cluster iguana although its clusters answer names it"
    )
    assert finding.fix == (
        "add `- ../../apps/api` to the resources of clusters/iguana/kustomization.yaml"
    )


def test_service_listed_in_a_cluster_outside_its_answer(infra: Path) -> None:
    path = infra / "clusters/iguana/kustomization.yaml"
    path.write_text(add_resource(path.read_text(), "../../apps/web"))
    [finding] = findings(infra)
    assert (finding.check, finding.path) == ("cluster", "apps/web")
    assert finding.message == "is listed in cluster iguana but its clusters answer is [koala]"


def test_cluster_listing_a_missing_path(infra: Path) -> None:
    path = infra / "clusters/koala/kustomization.yaml"
    path.write_text(add_resource(path.read_text(), "../../apps/gone"))
    found = findings(infra)
    [missing] = only(found, "missing-path")
    assert (missing.path, missing.message) == (
        "clusters/koala/kustomization.yaml",
        "lists ../../apps/gone, which does not exist",
    )
    assert "gitops-onboard offboard gone" in missing.fix
    assert [f.path for f in only(found, "build")] == ["clusters/koala"]


FLUX_SYSTEM = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    "resources:\n- gotk-sync.yaml\n"
)
GOTK_CONFIGMAP = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flux-marker\n  namespace: flux-system\n"
)


def test_a_cluster_that_leaves_out_flux_system(infra: Path) -> None:
    folder = infra / "clusters/koala/flux-system"
    folder.mkdir()
    (folder / "kustomization.yaml").write_text(FLUX_SYSTEM)
    (folder / "gotk-sync.yaml").write_text(GOTK_CONFIGMAP)
    [finding] = findings(infra)
    assert (finding.check, finding.path) == ("cluster", "clusters/koala/kustomization.yaml")
    assert "does not list flux-system" in finding.message and "prune" in finding.message
    path = infra / "clusters/koala/kustomization.yaml"
    path.write_text(add_resource(path.read_text(), "flux-system"))
    assert findings(infra) == []


def test_plaintext_secret_in_the_repo(infra: Path) -> None:
    (infra / "apps/web/extra.yaml").write_text(
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-extra\nstringData:\n  TOKEN: "t0p"\n'
    )
    [finding] = findings(infra)
    assert (finding.check, finding.path) == ("secret", "apps/web/extra.yaml")
    assert finding.message.startswith("Secret web-extra holds plaintext values (no sops metadata)")


def test_plaintext_secret_in_a_cluster_build(infra: Path) -> None:
    add_hand_made_app(
        infra,
        "legacy",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\ndata:\n  a: b\n",
    )
    kustomization = infra / "apps/legacy/kustomization.yaml"
    kustomization.write_text(
        kustomization.read_text()
        + "secretGenerator:\n  - name: legacy-token\n    literals:\n      - TOKEN=t0p\n"
    )
    [finding] = findings(infra)
    assert (finding.check, finding.path) == ("secret", "clusters/koala")
    assert finding.message.startswith("Secret legacy-token-")
    assert finding.message.endswith("is in the build output without sops encryption")


def test_unencrypted_secrets_enc_yaml(infra: Path) -> None:
    (infra / "apps/web/secrets.enc.yaml").write_text(
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-secrets\nstringData:\n  A: "b"\n'
    )
    found = findings(infra)
    assert {(f.check, f.path) for f in found} == {("secret", "apps/web/secrets.enc.yaml")}
    assert found[0].message == "is named *.enc.yaml but is not encrypted with sops"


def test_encrypted_file_with_one_plain_value(infra: Path) -> None:
    (infra / "apps/web/secrets.enc.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-secrets\nstringData:\n"
        "  A: ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]\n  B: plain\n"
        "sops:\n  mac: ENC[AES256_GCM,data:m,iv:i,tag:t,type:str]\n  version: 3.11.0\n"
        "  mac_only_encrypted: true\n"
    )
    found = findings(infra)
    assert "Secret web-secrets: stringData.B is not encrypted" in [f.message for f in found]
    # The hand-made ENC[...] and sops block around it are named too.
    assert {f.path for f in found} == {"apps/web/secrets.enc.yaml"}


def test_declared_secret_key_absent(
    infra: Path, template_repo: Path, age_private_key: AgeKey
) -> None:
    worker = {**WEB, "service": "worker", "secret_keys": ["API_TOKEN", "DB_PASSWORD"]}
    values = {"API_TOKEN": "t", "DB_PASSWORD": "p"}
    onboard_service(infra, worker, str(template_repo), secret_values=values)
    assert [f for f in findings(infra) if f.path.startswith("apps/worker")] == []
    assert secrets.unset_secret(infra, "worker", "DB_PASSWORD")
    [finding] = [f for f in findings(infra) if f.path == "apps/worker/secrets.enc.yaml"]
    assert finding.check == "secret"
    assert finding.message == "lacks the declared secret key DB_PASSWORD"
    assert finding.fix == "set each value: gitops-onboard secrets set worker KEY"
    secrets.set_secret(infra, "worker", "DB_PASSWORD", "pw")
    assert [f for f in findings(infra) if f.path.startswith("apps/worker")] == []


def test_manifest_failing_schema_validation(infra: Path) -> None:
    add_hand_made_app(
        infra,
        "legacy",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: legacy\n"
        "spec:\n  replicas: three\n  selector:\n    matchLabels: {app: legacy}\n"
        "  template:\n    metadata:\n      labels: {app: legacy}\n"
        "    spec:\n      containers:\n        - name: legacy\n          image: busybox\n",
    )
    [finding] = findings(infra)
    assert (finding.check, finding.path) == ("schema", "clusters/koala")
    assert finding.message.startswith(
        "Deployment legacy fails the Kubernetes 1.32.0 schema: "
        "spec.replicas: 'three' is not of type"
    )


def test_unstamped_app_folder_unless_listed_as_hand_made(infra: Path) -> None:
    (infra / "apps/notes").mkdir()
    [finding] = findings(infra)
    assert (finding.check, finding.path) == ("unstamped", "apps/notes")
    assert "hand_made in .gitops-onboard.yaml" in finding.fix
    (infra / ".gitops-onboard.yaml").write_text("hand_made:\n  - apps/notes\n")
    assert findings(infra) == []


def test_cd_tag_bumps_are_not_drift(infra: Path) -> None:
    path = infra / "apps/web/kustomization.yaml"
    text = set_image_tag(path.read_text(), "gitea.example.com/team/web", "3f2c1e0")
    path.write_text(text.replace("newTag: 3f2c1e0", 'newTag: "3f2c1e0"  # deployed by CD'))
    assert findings(infra) == []
    path.write_text(path.read_text().replace("images:", "# a hand comment\nimages:"))
    [drift] = findings(infra)
    assert drift.path == "apps/web/kustomization.yaml" and "+# a hand comment" in drift.diff


def test_take_cd_owned_lines_only_touches_new_tag() -> None:
    rendered = 'images:\n  - name: "r/o/web"\n    newTag: "latest"\n'
    disk = 'images:\n  - name: "r/o/web"\n    newTag: abc # bumped\n'
    assert take_cd_owned_lines(rendered, disk) == disk
    other = 'images:\n  - name: "r/o/api"\n    newTag: abc\n'
    assert take_cd_owned_lines(rendered, other) == rendered


DIGEST = "sha256:" + "0f" * 32


def test_take_cd_owned_lines_takes_the_digest_cd_pins_after_new_tag() -> None:
    rendered = 'images:\n  - name: "r/o/web"\n    newTag: "latest"\n  - name: "r/o/api"\n'
    rendered += '    newTag: "latest"\n'
    disk = rendered.replace('newTag: "latest"\n', f'newTag: "abc"\n    digest: "{DIGEST}"\n')
    assert disk.count("digest:") == 2
    assert take_cd_owned_lines(rendered, disk) == disk
    # a digest line the disk no longer has is not invented
    assert take_cd_owned_lines(disk, rendered) == rendered


def test_a_digest_pinned_by_cd_is_not_drift_but_a_hand_edit_next_to_it_is(infra: Path) -> None:
    """The very awk program the deploy job runs sets newTag and adds the digest."""
    path = infra / "apps/web/kustomization.yaml"
    done = subprocess.run(
        [
            "awk",
            "-v",
            "image=gitea.example.com/team/web",
            "-v",
            "tag=3f2c1e0",
            "-v",
            f"digest={DIGEST}",
            "-f",
            str(PROJECT / "template/shared/bump-newtag.awk"),
            str(path),
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    path.write_text(done.stdout)
    assert f'digest: "{DIGEST}"' in path.read_text()
    assert findings(infra) == []
    path.write_text(path.read_text().replace("images:", "# a hand comment\nimages:"))
    [drift] = findings(infra)
    assert "+# a hand comment" in drift.diff and "digest" not in drift.diff


def test_newer_release_is_stale_unless_offline(
    tmp_path: Path, template_repo: Path, age_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    template = tmp_path / "template"
    shutil.copytree(template_repo, template, symlinks=True)
    root = tmp_path / "infra"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    init_infra(root, ["koala"], str(template), extra={"age_recipients": [age_key.public]})
    onboard_service(root, {**WEB, "image_pull_secret": ""})
    git("tag", "v1.1.0", cwd=template)
    git("tag", "v2.0.0rc1", cwd=template)  # prereleases do not count
    report = check(root)
    assert [(f.check, f.path) for f in report.findings] == [("stale", "."), ("stale", "apps/web")]
    assert report.findings[1].message == "template v1.1.0 is out; this copy is at v1.0.0"
    assert report.findings[1].fix.startswith("copier update --trust apps/web")
    assert {c.latest for c in report.copies} == {"v1.1.0"}
    code, out = run_cli(capsys, "--offline", str(root))
    assert code == 0 and "offline" in out


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nowhere")]) == 2
    assert "PATH: must be an existing folder" in capsys.readouterr().err
    assert main(["check", str(tmp_path)]) == 2
    assert "holds no stamped copy" in capsys.readouterr().err
    (tmp_path / "clusters").mkdir()
    assert main(["check", "--kubernetes-version", "banana", str(tmp_path)]) == 2


def test_unreachable_template_version_is_reported(infra: Path) -> None:
    answers = infra / "apps/web/.copier-answers.yml"
    answers.write_text(answers.read_text().replace("_commit: v1.0.0", "_commit: v9.9.9"))
    [finding] = findings(infra)
    assert (finding.check, finding.path) == ("render", "apps/web/.copier-answers.yml")
    assert "cannot fetch template" in finding.message and "v9.9.9" in finding.message


# ── the fast renderer is Copier ──────────────────────────────────────────────

VARIANTS: list[dict[str, Any]] = [
    WEB,
    API,
    {
        **WEB,
        "service": "brain",
        "volume_type": "hostPath",
        "volume_mount_path": "/app/brain",
        "volume_host_path": "/var/lib/brain",
        "node_hostname": "koala",
        "replicas": 2,
        "run_as_user": 0,
        "image_pull_secret": "",
        "extra_ports": {"metrics": 9090, "admin": 9091},
        "cpu_limit": "500m",
        "memory_request": "",
        "secret_keys": ["TOKEN"],
        "env": {"QUOTES": 'it\'s "quoted"', "DOLLAR": "${HOME}", "UNICODE": "héllo ✓"},
        "namespace": "brains",
        "image_tag": "0755",
    },
]


@pytest.fixture(scope="module")
def variants(
    tmp_path_factory: pytest.TempPathFactory, pristine_infra: Path, template_repo: Path
) -> Iterator[Path]:
    """An infra repo with unlike services, and the three app repos of the app tests."""
    workspace = tmp_path_factory.mktemp("variants")
    root = workspace / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    for answers in VARIANTS:
        onboard_service(root, answers)
    for name, answers in APPS.items():
        app = workspace / "apps" / name
        app.mkdir(parents=True)
        data = {**answers, "kind": "app"}
        if data.get("volume_type", "none") != "none":
            data.setdefault("state_dir", data["volume_mount_path"])
        copier_api.copy(str(template_repo), app, data)
    yield workspace


def test_fast_renderer_gives_the_bytes_copier_run_copy_writes(variants: Path) -> None:
    copies, unreadable = find_copies(variants)
    assert unreadable == [] and len(copies) == 1 + len(VARIANTS) + len(APPS)
    assert {c.kind for c in copies} == {"infra", "service", "app"}
    with TemplateRenderer("fast") as fast, TemplateRenderer("copier") as reference:
        assert fast.engine == "fast"
        for copy in copies:
            expected = reference.render(copy)
            assert fast.render(copy) == expected, copy.folder
            # ... and what onboarding wrote is exactly that.
            for name, content in expected.items():
                assert (copy.folder / name).read_bytes() == content


def test_fresh_app_repos_are_clean(variants: Path) -> None:
    report = check(variants / "apps", offline=True)
    assert report.findings == ()
    assert sorted(c.path for c in report.copies) == sorted(APPS)


def test_unreadable_answers_file_is_reported(infra: Path) -> None:
    (infra / "apps/notes").mkdir()
    (infra / "apps/notes/.copier-answers.yml").write_text("_src_path: [unclosed\n")
    found = findings(infra)
    # Registered nowhere with a broken answers file: an onboarding that was interrupted.
    assert [(f.check, f.path) for f in found] == [
        ("answers", "apps/notes/.copier-answers.yml"),
        ("interrupted", "apps/notes"),
    ]
    assert "gitops-onboard offboard notes" in found[1].fix


def test_release_order_is_pep_440(tmp_path: Path) -> None:
    from generator.releases import recorded_version, release_tags

    repo = tmp_path / "template"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit_all(repo, "first")
    for tag in ("v1.9.0", "v1.10.0", "v1.10.1rc1", "latest", "v1.2.0"):
        git("tag", tag, cwd=repo)
    assert release_tags(str(repo), cwd=tmp_path) == ["v1.10.0", "v1.9.0", "v1.2.0"]
    described = recorded_version("v1.9.0-3-gabc1234")
    assert str(described) == "1.9.0.post3+abc1234"
    assert described is not None and described > recorded_version("v1.9.0")  # type: ignore[operator]
    assert recorded_version("abc1234") is None
