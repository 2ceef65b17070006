"""A service grows past what the template makes: its own Component, user-owned app files, exposure.

Before, the template owned every file of `apps/<service>/` and of the app repo: the first
extra manifest or Dockerfile line was drift, `check` failed, and the app's CD (which runs
`check` first) stopped deploying, with no word on how to keep the edit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.check import Finding, check
from generator.copier_run import copying
from generator.onboard import init_infra, onboard_service
from tests.app_world import APPS
from tests.helpers import (
    AgeKey,
    build_and_validate,
    commit_all,
    copier_cli,
    find,
    git,
    load_yaml,
    snapshot_template,
)

WEB = {
    "service": "web",
    "registry": "gitea.example.com",
    "owner": "team",
    "image_pull_secret": "",
}
CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: "web-report"
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: "OnFailure"
          containers:
            - name: "report"
              image: "busybox:1.37"
              command: ["echo", "report"]
"""
SIDECAR = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "web"
spec:
  template:
    spec:
      containers:
        - name: "log-shipper"
          image: "busybox:1.37"
          command: ["sleep", "infinity"]
"""
COMPONENT = """\
# Ours: a nightly report and a log shipper beside the service.
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
resources:
  - cronjob.yaml
patches:
  - path: sidecar.yaml
"""


def copier_update(*args: str, cwd: Path) -> int:
    return copier_cli("update", "--trust", "--defaults", *args, cwd=cwd)


def tag_v2(template: Path, relative: str, old: str, new: str) -> None:
    """Change one line of the template and tag the result v2.0.0."""
    path = template / relative
    text = path.read_text()
    assert old in text, relative
    path.write_text(text.replace(old, new))
    commit_all(template, "v2")
    git("tag", "v2.0.0", cwd=template)


def stamped_web(tmp_path: Path, template: Path, age_key: AgeKey, **extra: Any) -> Path:
    infra = tmp_path / "infra"
    infra.mkdir()
    git("init", "-q", "-b", "main", cwd=infra)
    init_infra(
        infra,
        ["koala", "iguana"],
        str(template),
        vcs_ref="v1.0.0",
        extra={"age_recipients": [age_key.public]},
    )
    onboard_service(infra, {**WEB, "clusters": ["koala"], **extra}, vcs_ref="v1.0.0")
    commit_all(infra, "onboard web")
    return infra


def findings(root: Path) -> list[Finding]:
    return list(check(root, offline=True).findings)


def give_web_its_own_objects(infra: Path) -> dict[str, bytes]:
    local = infra / "apps/web/local"
    (local / "cronjob.yaml").write_text(CRONJOB)
    (local / "sidecar.yaml").write_text(SIDECAR)
    (local / "kustomization.yaml").write_text(COMPONENT)
    commit_all(infra, "web's own report job and log shipper")
    return {p.name: p.read_bytes() for p in local.iterdir()}


def test_a_cronjob_and_a_deployment_patch_in_the_component_are_not_drift_and_survive_update(
    tmp_path: Path, age_key: AgeKey
) -> None:
    """An extra manifest listed in the stamped kustomization was drift; now it has a home."""
    template = snapshot_template(tmp_path / "template", "v1.0.0")
    infra = stamped_web(tmp_path, template, age_key)
    assert (infra / "apps/web/local/kustomization.yaml").is_file()
    before = give_web_its_own_objects(infra)
    assert findings(infra) == []

    tag_v2(
        template,
        "template/service/deployment.yaml.jinja",
        "revisionHistoryLimit: 3",
        "revisionHistoryLimit: 5",
    )
    code = copier_update("apps/web", cwd=infra)
    assert code == 0

    local = infra / "apps/web/local"
    assert {p.name: p.read_bytes() for p in local.iterdir()} == before
    assert load_yaml(infra / "apps/web/deployment.yaml")["spec"]["revisionHistoryLimit"] == 5
    objects = build_and_validate(infra / "clusters/koala")
    assert find(objects, "CronJob", "web-report")["metadata"]["namespace"] == "web"
    containers = find(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert sorted(c["name"] for c in containers) == ["log-shipper", "web"]
    assert findings(infra) == []


def test_a_plaintext_secret_in_the_component_is_refused(
    tmp_path: Path, template_repo: Path, age_key: AgeKey
) -> None:
    """The component is the user's, but a Secret in it must still be encrypted."""
    infra = stamped_web(tmp_path, template_repo, age_key)
    local = infra / "apps/web/local"
    (local / "token.yaml").write_text(
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: "token"\nstringData:\n  T: "x"\n'
    )
    (local / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n"
        "  - token.yaml\n"
    )
    found = findings(infra)
    assert {f.check for f in found} == {"secret"}
    assert any(f.path == "apps/web/local/token.yaml" for f in found)
    assert any("without sops encryption" in f.message for f in found)


def test_an_invalid_object_in_the_component_fails_the_schema(
    tmp_path: Path, template_repo: Path, age_key: AgeKey
) -> None:
    """Not compared with the template does not mean not validated."""
    infra = stamped_web(tmp_path, template_repo, age_key)
    local = infra / "apps/web/local"
    (local / "cronjob.yaml").write_text(CRONJOB.replace("schedule:", "shedule:"))
    (local / "kustomization.yaml").write_text(
        COMPONENT.replace("patches:\n  - path: sidecar.yaml\n", "")
    )
    found = findings(infra)
    assert [f.check for f in found] == ["schema"]
    assert "CronJob web-report" in found[0].message


def test_a_hand_edit_of_the_templates_file_says_how_to_keep_it(
    tmp_path: Path, template_repo: Path, age_key: AgeKey
) -> None:
    """The drift finding only said how to throw the edit away."""
    infra = stamped_web(tmp_path, template_repo, age_key)
    deployment = infra / "apps/web/deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 9")
    )
    [drift] = findings(infra)
    assert drift.check == "drift" and drift.path == "apps/web/deployment.yaml"
    assert "make it an answer" in drift.fix and "Component local/" in drift.fix


def stamp_portal(tmp_path: Path, template: Path) -> Path:
    app = tmp_path / "portal"
    app.mkdir()
    git("init", "-q", "-b", "main", cwd=app)
    copying.copy(str(template), app, {**APPS["portal"], "kind": "app"}, vcs_ref="v1.0.0")
    commit_all(app, "stamp portal")
    return app


def test_a_user_owned_dockerfile_with_a_hand_edit_passes_check_and_survives_update(
    tmp_path: Path,
) -> None:
    """A line added to the Dockerfile blocked the deploy, and the message named no way out."""
    template = snapshot_template(tmp_path / "template", "v1.0.0")
    app = stamp_portal(tmp_path, template)
    dockerfile = app / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo 'portal needs this'\n")
    commit_all(app, "hand edit")
    [drift] = check(app, offline=True).findings
    assert drift.path == "Dockerfile"
    assert "user_owned=[Dockerfile]" in drift.fix
    edited = dockerfile.read_bytes()

    tag_v2(
        template,
        "template/app/Dockerfile.jinja",
        "# syntax=docker/dockerfile:1\n",
        "# syntax=docker/dockerfile:1\n# v2\n",
    )
    code = copier_update("--data", "user_owned=[Dockerfile]", cwd=app)
    assert code == 0

    assert load_yaml(app / ".copier-answers.yml")["user_owned"] == ["Dockerfile"]
    assert dockerfile.read_bytes() == edited
    assert check(app, offline=True).findings == ()
    commit_all(app, "update to v2, Dockerfile ours")
    # A second update keeps leaving it alone.
    code = copier_update(cwd=app)
    assert code == 0
    assert dockerfile.read_bytes() == edited


def test_only_the_files_a_user_may_own_can_be_listed(tmp_path: Path) -> None:
    """The CD workflow carries the check itself: it cannot be taken over."""
    template = snapshot_template(tmp_path / "template", "v1.0.0")
    app = tmp_path / "portal"
    app.mkdir()
    with pytest.raises(Exception, match="user_owned"):
        copying.copy(
            str(template),
            app,
            {**APPS["portal"], "kind": "app", "user_owned": [".gitea/workflows/cd.yml"]},
        )


def test_an_exposed_autoscaled_service_on_two_clusters_builds_and_validates_strictly(
    tmp_path: Path, template_repo: Path, age_key: AgeKey
) -> None:
    """Ingress with cert-manager TLS, HPA, PDB and NetworkPolicy: answers, not hand edits."""
    infra = tmp_path / "infra"
    infra.mkdir()
    git("init", "-q", "-b", "main", cwd=infra)
    init_infra(
        infra, ["koala", "iguana"], str(template_repo), extra={"age_recipients": [age_key.public]}
    )
    answers = {
        **WEB,
        "clusters": ["koala", "iguana"],
        "expose": "ingress",
        "hosts": ["web.example.com", "www.example.com"],
        "tls": "cert-manager",
        "cluster_issuer": "letsencrypt",
        "autoscaling": True,
        "min_replicas": 2,
        "max_replicas": 6,
        "cpu_target_percent": 70,
        "extra_ports": {"metrics": 9090},
    }
    onboard_service(infra, answers)
    for cluster in ("koala", "iguana"):
        objects = build_and_validate(infra / "clusters" / cluster)
        ingress = find(objects, "Ingress", "web")
        assert ingress["metadata"]["annotations"] == {
            "cert-manager.io/cluster-issuer": "letsencrypt"
        }
        assert ingress["spec"]["ingressClassName"] == "traefik"
        assert ingress["spec"]["tls"] == [
            {"hosts": ["web.example.com", "www.example.com"], "secretName": "web-tls"}
        ]
        hpa = find(objects, "HorizontalPodAutoscaler", "web")["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
        assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
        assert find(objects, "PodDisruptionBudget", "web")["spec"]["maxUnavailable"] == 1
        policy = find(objects, "NetworkPolicy", "web")["spec"]
        assert [p["port"] for p in policy["ingress"][0]["ports"]] == [8080, 9090]
        assert policy["ingress"][0]["from"][1]["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "kube-system"
        }
        deployment = find(objects, "Deployment", "web")["spec"]
        assert "replicas" not in deployment  # the autoscaler's, not Flux's
        container = deployment["template"]["spec"]["containers"][0]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert findings(infra) == []


def test_a_fixed_replica_count_above_one_gets_a_disruption_budget_and_one_does_not(
    tmp_path: Path, template_repo: Path, age_key: AgeKey
) -> None:
    infra = stamped_web(tmp_path, template_repo, age_key, replicas=1, network_policy=False)
    kinds = {o["kind"] for o in build_and_validate(infra / "clusters/koala")}
    assert "PodDisruptionBudget" not in kinds and "NetworkPolicy" not in kinds
    assert copier_update("--data", "replicas=3", "apps/web", cwd=infra) == 0
    kinds = {o["kind"] for o in build_and_validate(infra / "clusters/koala")}
    assert "PodDisruptionBudget" in kinds
