"""A team hands its hand-written services to the tool: `gitops-onboard adopt apps/<service>`.

Each service is laid out by hand in an infra repo stamped by the template, registered in
its clusters and committed. A dry run writes nothing and lists what the template alone
would change; `--yes` writes the template's files and the service's own Component, and
every cluster then builds the same objects as before (built with `kubectl kustomize` and
compared object by object here, each encrypted Secret decrypted with the age key the way
Flux does). The plaintext Secret of one service is encrypted on the way in, and `check`
is clean afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import sops
from generator.cli import main
from generator.clusters import cluster_file
from generator.kubectl import kustomize_build
from generator.kustomization import add_resource
from tests.helpers import (
    PROJECT,
    AgeKey,
    build_and_validate,
    commit_all,
    git,
    snapshot_template,
    tree_bytes,
)

KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"


def lay_out(root: Path, service: str, files: dict[str, str], clusters: tuple[str, ...]) -> None:
    """Write a hand-written service folder, list it in `clusters`, commit."""
    folder = root / "apps" / service
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    for cluster in clusters:
        path = cluster_file(root, cluster)
        path.write_text(add_resource(path.read_text(), f"../../apps/{service}"))
    commit_all(root, f"{service}, written by hand")


def supervisor_files() -> dict[str, str]:
    """The reference's hand-written Deployment and Service, with a deployed tag."""
    text = (PROJECT / "tests/fixtures/reference_supervisor.yaml").read_text(encoding="utf-8")
    deployment, service = text.replace("IMAGE_TAG", "3f2a9c1").split("\n---\n")
    return {
        "kustomization.yaml": KUSTOMIZATION + "resources:\n  - deployment.yaml\n  - service.yaml\n",
        "deployment.yaml": deployment,
        "service.yaml": service,
    }


LEDGER_PASSWORD = "ledger-db-hunter2"


def ledger_files() -> dict[str, str]:
    """Nothing like supervisor: a PVC, a plaintext Secret, an Ingress, two replicas, probes."""
    return {
        "kustomization.yaml": KUSTOMIZATION
        + "namespace: money\nresources:\n  - namespace.yaml\n  - app.yaml\n  - pvc.yaml\n"
        "  - secret.yaml\n  - ingress.yaml\n"
        "images:\n  - name: registry.example.com:5000/fin/ledger\n"
        "    newTag: v2.4.1\n",
        "namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: money\n",
        "app.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ledger
  labels: {app: ledger, tier: backend}
spec:
  replicas: 2
  selector:
    matchLabels: {app: ledger}
  template:
    metadata:
      labels: {app: ledger}
    spec:
      securityContext: {runAsUser: 1000, runAsNonRoot: true}
      containers:
        - name: ledger
          image: registry.example.com:5000/fin/ledger
          ports:
            - {name: http, containerPort: 8000}
            - {name: admin, containerPort: 9000}
          env:
            - {name: DB_HOST, value: "postgres.db"}
            - {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: ledger-db, key: password}}}
          readinessProbe:
            httpGet: {path: /healthz, port: http}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {memory: 512Mi}
          volumeMounts:
            - {name: data, mountPath: /var/ledger}
      volumes:
        - name: data
          persistentVolumeClaim: {claimName: ledger-data}
---
apiVersion: v1
kind: Service
metadata:
  name: ledger
spec:
  selector: {app: ledger}
  ports:
    - {name: http, port: 80, targetPort: http}
""",
        "pvc.yaml": """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ledger-data
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local-path
  resources:
    requests: {storage: 5Gi}
""",
        "secret.yaml": f"""\
apiVersion: v1
kind: Secret
metadata:
  name: ledger-db
type: Opaque
stringData:
  password: "{LEDGER_PASSWORD}"
""",
        "ingress.yaml": """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ledger
spec:
  ingressClassName: traefik
  rules:
    - host: ledger.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {name: ledger, port: {name: http}}
""",
    }


def relay_files() -> dict[str, str]:
    """Two containers, a generated ConfigMap (hash-suffixed name), an unnamed extra port."""
    return {
        "kustomization.yaml": KUSTOMIZATION
        + "namespace: relay\nresources:\n  - deployment.yaml\n  - service.yaml\n"
        "configMapGenerator:\n  - name: relay-config\n    literals:\n      - MODE=fanout\n",
        "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: relay
spec:
  selector:
    matchLabels: {app: relay}
  template:
    metadata:
      labels: {app: relay}
    spec:
      containers:
        - name: relay
          image: ghcr.io/acme/relay:1.0.0
          ports:
            - containerPort: 7000
            - containerPort: 7001
          envFrom:
            - configMapRef: {name: relay-config}
          volumeMounts:
            - {name: spool, mountPath: /spool}
        - name: log-shipper
          image: docker.io/fluent/fluent-bit:3.0
          volumeMounts:
            - {name: spool, mountPath: /spool, readOnly: true}
      volumes:
        - name: spool
          emptyDir: {}
""",
        "service.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: relay
spec:
  selector: {app: relay}
  ports:
    - {port: 7000}
""",
    }


CASES = {
    "supervisor": (supervisor_files, ("koala",)),
    "ledger": (ledger_files, ("koala", "iguana")),
    "relay": (relay_files, ("iguana",)),
}


def decrypted(obj: dict[str, Any]) -> dict[str, Any]:
    """A built Secret as Flux applies it: decrypted with the age key, sops metadata gone."""
    if obj.get("kind") != "Secret" or "sops" not in obj:
        return obj
    text = yaml.safe_dump(obj, sort_keys=False)
    plain = yaml.safe_load(sops.decrypt_text(text))
    return {k: v for k, v in plain.items() if k != "sops"}


def by_key(objects: list[dict[str, Any]]) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    return {
        (
            o["apiVersion"],
            o["kind"],
            o["metadata"].get("namespace", ""),
            o["metadata"]["name"],
        ): decrypted(o)
        for o in objects
    }


def adopt(root: Path, service: str, *extra: str) -> int:
    return main(["adopt", "--infra", str(root), f"apps/{service}", *extra])


@pytest.mark.parametrize("service", sorted(CASES))
def test_a_dry_run_writes_nothing_and_lists_what_the_template_would_change(
    infra_repo: Path, service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    files, clusters = CASES[service]
    lay_out(infra_repo, service, files(), clusters)
    before = tree_bytes(infra_repo)
    assert adopt(infra_repo, service) == 0
    assert adopt(infra_repo, service, "--dry-run", "--yes") == 0
    out = capsys.readouterr().out
    assert tree_bytes(infra_repo) == before
    assert "the template alone would differ in" in out
    assert f"  Deployment {service}/{service}: " in out or f"Deployment money/{service}" in out
    assert "every cluster builds the same objects as before" in out
    assert "nothing written" in out


@pytest.mark.parametrize("service", sorted(CASES))
def test_adopting_keeps_every_cluster_building_the_same_objects(
    infra_repo: Path, service: str, age_private_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    files, clusters = CASES[service]
    lay_out(infra_repo, service, files(), clusters)
    built = {c: by_key(kustomize_build(cluster_file(infra_repo, c).parent)) for c in clusters}

    assert adopt(infra_repo, service, "--yes") == 0
    capsys.readouterr()

    folder = infra_repo / "apps" / service
    assert (folder / ".copier-answers.yml").is_file()
    assert (folder / "local" / "kustomization.yaml").is_file()
    for cluster in clusters:
        after = by_key(build_and_validate(cluster_file(infra_repo, cluster).parent))
        assert sorted(after) == sorted(built[cluster])
        for key, obj in built[cluster].items():
            assert after[key] == obj, key
    assert main(["check", "--offline", str(infra_repo)]) == 0, capsys.readouterr().out


def test_a_plaintext_secret_is_encrypted_on_the_way_in(infra_repo: Path, age_key: AgeKey) -> None:
    files, clusters = CASES["ledger"]
    lay_out(infra_repo, "ledger", files(), clusters)
    assert adopt(infra_repo, "ledger", "--yes") == 0
    folder = infra_repo / "apps" / "ledger"
    assert not (folder / "secret.yaml").exists()
    secret = folder / "local" / "secret-ledger-db.enc.yaml"
    assert "ENC[AES256_GCM," in secret.read_text()
    for path in infra_repo.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert LEDGER_PASSWORD.encode() not in path.read_bytes(), path


def test_an_adopted_service_takes_a_template_release_and_keeps_its_component(
    infra_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After adopting, the service is a stamped copy like any other: a release updates it."""
    newer = snapshot_template(tmp_path / "template", "v1.0.0")
    assert main(["template", "allow", str(newer), "--repo", str(infra_repo)]) == 0
    files, clusters = CASES["supervisor"]
    lay_out(infra_repo, "supervisor", files(), clusters)
    assert (
        adopt(infra_repo, "supervisor", "--yes", "--template", str(newer), "--vcs-ref", "v1.0.0")
        == 0
    )
    commit_all(infra_repo, "adopt supervisor")
    folder = infra_repo / "apps/supervisor"
    component = {p.name: p.read_bytes() for p in (folder / "local").iterdir()}
    service = folder / "service.yaml"
    template_service = newer / "template/service/service.yaml.jinja"
    template_service.write_text(
        template_service.read_text().replace("spec:\n", "spec:\n  sessionAffinity: None\n", 1)
    )
    commit_all(newer, "say the default session affinity")
    git("tag", "v1.1.0", cwd=newer)
    capsys.readouterr()

    assert main(["update", str(folder), "--to", "v1.1.0", "--jobs", "1"]) == 0, capsys.readouterr()

    assert yaml.safe_load((folder / ".copier-answers.yml").read_text())["_commit"] == "v1.1.0"
    assert "sessionAffinity: None" in service.read_text()
    assert {p.name: p.read_bytes() for p in (folder / "local").iterdir()} == component
    assert git("status", "--porcelain", "--", "apps/supervisor/local", cwd=infra_repo) == ""
    capsys.readouterr()
    assert main(["check", "--offline", str(infra_repo)]) == 0, capsys.readouterr().out
