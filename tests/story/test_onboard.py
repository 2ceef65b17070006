"""The user's story: stamp an infra repo, onboard services, build and validate every cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml as pyyaml
from ruamel.yaml import YAML

from generator.cli import main
from generator.kustomization import resources
from tests.helpers import PROJECT, WEB_ARGS, build_and_validate, find, load_yaml, tree_bytes

TRICKY_VALUES = {
    "YES": "yes",
    "NO": "no",
    "Y": "y",
    "N": "n",
    "ON": "on",
    "OCTAL": "0755",
    "OCTAL_NEW": "0o17",
    "EXP": "1e3",
    "SEXAGESIMAL": "1:30",
    "TILDE": "~",
    "NULL": "null",
    "EMPTY": "",
    "COMMENTISH": "a: b # c",
    "MULTILINE": "line one\nline two\n",
    "DOLLAR": "${HOME} $x",
    "QUOTES": 'it\'s "quoted"',
    "UNICODE": "héllo ✓",
}


def cluster_resources(infra: Path, cluster: str) -> list[str]:
    return resources((infra / "clusters" / cluster / "kustomization.yaml").read_text())


def onboard(infra: Path, template: Path, *args: str) -> int:
    return main(["onboard", "--infra", str(infra), "--template", str(template), *args])


def container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    spec = find(objects, "Deployment", name)["spec"]["template"]["spec"]
    result: dict[str, Any] = spec["containers"][0]
    return result


def test_infra_repo_has_a_kustomization_per_cluster_and_a_readme(infra_repo: Path) -> None:
    for cluster in ("koala", "iguana"):
        text = (infra_repo / "clusters" / cluster / "kustomization.yaml").read_text()
        assert load_yaml(infra_repo / "clusters" / cluster / "kustomization.yaml")["kind"] == (
            "Kustomization"
        )
        assert cluster in text
    readme = (infra_repo / "README.md").read_text()
    assert "koala, iguana" in readme and "copier update --trust apps/web" in readme


def test_supervisor_onboards_onto_koala_and_builds(infra_repo: Path, template_repo: Path) -> None:
    assert (
        onboard(infra_repo, template_repo, "--data-file", str(PROJECT / "examples/supervisor.yml"))
        == 0
    )
    assert cluster_resources(infra_repo, "koala") == ["../../apps/supervisor"]
    assert cluster_resources(infra_repo, "iguana") == []
    names = sorted(p.name for p in (infra_repo / "apps/supervisor").iterdir())
    assert names == [
        ".copier-answers.yml",
        "deployment.yaml",
        "kustomization.yaml",
        "local",
        "namespace.yaml",
        "networkpolicy.yaml",
        "secrets.enc.yaml",
        "service.yaml",
    ]
    objects = build_and_validate(infra_repo / "clusters/koala")
    assert container(objects, "supervisor")["image"] == "gitea.d-ma.be/mathias/supervisor:latest"
    # The kubelet creates the hostPath folder as root; an init container hands it to uid 10001.
    pod = find(objects, "Deployment", "supervisor")["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["command"] == ["chown", "10001:10001", "/state"]
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["CHOWN"]}
    assert init["volumeMounts"] == [{"name": "state", "mountPath": "/state"}]


# Every way our supervisor manifests differ from the hand-written ones of the reference, and
# why. The test below computes the differences and fails on any that is not explained here.
EXPLAINED_DIFFERENCES = {
    "Deployment spec.selector.matchLabels.app": (
        "selectors use the recommended app.kubernetes.io/name and /instance labels"
    ),
    "Deployment spec.template.metadata.labels.app": "same recommended labels on the pods",
    "Deployment spec.template.spec.containers[0].image": (
        "the tag is not in deployment.yaml: the images: entry of kustomization.yaml holds it "
        "(latest until CD bumps it) so CD edits one structured field instead of sed on image:"
    ),
    "Deployment spec.template.spec.containers[0].volumeMounts[0].name": (
        "the one state volume is called 'state' for every service; only the paths matter"
    ),
    "Deployment spec.template.spec.volumes[0].name": "same volume name",
    "Service spec.ports[0].targetPort": (
        "targets the named container port 'http' (3200) rather than repeating the number"
    ),
    "Service spec.selector.app": "selects with the recommended labels, like the Deployment",
}


Path_ = tuple[str | int, ...]


def leaves(value: Any, prefix: Path_ = ()) -> dict[Path_, Any]:
    if isinstance(value, dict):
        items: list[tuple[str | int, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return {prefix: value}
    out: dict[Path_, Any] = {}
    for key, item in items:
        out.update(leaves(item, (*prefix, key)))
    return out


def lookup(obj: Any, path: Path_) -> Any:
    for part in path:
        try:
            obj = obj[part]
        except (KeyError, IndexError, TypeError):
            return "<absent>"
    return obj


def shown(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def test_supervisor_matches_the_reference_field_by_field(
    infra_repo: Path, template_repo: Path
) -> None:
    """Every field the reference set by hand is ours too, except the explained differences.

    Beyond the reference we add: recommended labels, a non-root securityContext (uid 10001,
    seccomp RuntimeDefault, no privilege escalation, all capabilities dropped), TCP readiness
    and liveness probes on the http port, requests and a memory limit, `strategy: Recreate`
    because the hostPath volume must not be mounted by two pods at once, no service-account
    token, and a revision history limit.
    """
    assert (
        onboard(infra_repo, template_repo, "--data-file", str(PROJECT / "examples/supervisor.yml"))
        == 0
    )
    objects = build_and_validate(infra_repo / "clusters/koala")
    reference = list(
        YAML(typ="safe", pure=True).load_all(
            (PROJECT / "tests/fixtures/reference_supervisor.yaml").read_text()
        )
    )
    differences: dict[str, tuple[Any, Any]] = {}
    for ref in reference:
        ours = find(objects, ref["kind"], ref["metadata"]["name"])
        for path, expected in leaves(ref).items():
            actual = lookup(ours, path)
            if actual != expected:
                differences[f"{ref['kind']} {shown(path)}"] = (expected, actual)
    assert set(differences) == set(EXPLAINED_DIFFERENCES), differences
    assert differences["Deployment spec.template.spec.containers[0].image"][1] == (
        "gitea.d-ma.be/mathias/supervisor:latest"
    )


def test_a_service_unlike_the_reference_on_several_clusters(
    infra_repo: Path, template_repo: Path
) -> None:
    code = onboard(
        infra_repo,
        template_repo,
        "--service",
        "ledger-api",
        "--clusters",
        "koala,iguana",
        "-d",
        "registry=registry.internal:5000",
        "-d",
        "owner=finance/backend",
        "-d",
        "port=9000",
        "-d",
        "replicas=3",
        "-d",
        "namespace=finance",
        "-d",
        "volume_type=pvc",
        "-d",
        "volume_mount_path=/var/lib/ledger",
        "-d",
        "volume_size=5Gi",
        "-d",
        "volume_storage_class=local-path",
        "-d",
        "probe_path=/healthz",
        "-d",
        "extra_ports={metrics: 9090}",
        "-d",
        "image_pull_secret=",
        "-d",
        "cpu_limit=2",
        "-d",
        "memory_limit=",
        "-d",
        "run_as_user=65532",
    )
    assert code == 0
    for cluster in ("koala", "iguana"):
        assert cluster_resources(infra_repo, cluster) == ["../../apps/ledger-api"]
        objects = build_and_validate(infra_repo / "clusters" / cluster)
        deployment = find(objects, "Deployment", "ledger-api")
        pod = deployment["spec"]["template"]["spec"]
        assert deployment["metadata"]["namespace"] == "finance"
        assert deployment["spec"]["replicas"] == 3
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert "imagePullSecrets" not in pod and "nodeSelector" not in pod
        assert "initContainers" not in pod  # fsGroup makes a PVC writable
        assert pod["securityContext"]["runAsUser"] == 65532
        main_container = pod["containers"][0]
        assert main_container["image"] == "registry.internal:5000/finance/backend/ledger-api:latest"
        assert "env" not in main_container and "envFrom" not in main_container
        assert main_container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert main_container["resources"] == {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "2"},
        }
        # the state volume, then /tmp for the read-only root filesystem
        assert pod["volumes"] == [
            {"name": "state", "persistentVolumeClaim": {"claimName": "ledger-api-state"}},
            {"name": "tmp", "emptyDir": {}},
        ]
        claim = find(objects, "PersistentVolumeClaim", "ledger-api-state")
        assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
        assert claim["spec"]["storageClassName"] == "local-path"
        service = find(objects, "Service", "ledger-api")
        assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [
            ("http", 9000),
            ("metrics", 9090),
        ]
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= (
            deployment["spec"]["template"]["metadata"]["labels"].items()
        )


def test_tricky_env_values_stay_strings(
    infra_repo: Path, template_repo: Path, tmp_path: Path
) -> None:
    answers = tmp_path / "answers.yml"
    # Written as YAML 1.1 (PyYAML), the version Copier and the CLI read it in: a 1.2 writer
    # leaves the key NO unquoted, which 1.1 reads as false.
    with answers.open("w") as handle:
        pyyaml.safe_dump(
            {
                "service": "echo",
                "registry": "gitea.example.com",
                "owner": "team",
                "port": 80,
                "run_as_user": 0,
                "clusters": ["iguana"],
                "env": TRICKY_VALUES,
            },
            handle,
        )
    assert onboard(infra_repo, template_repo, "--data-file", str(answers)) == 0
    objects = build_and_validate(infra_repo / "clusters/iguana")
    rendered = {e["name"]: e["value"] for e in container(objects, "echo")["env"]}
    assert rendered == TRICKY_VALUES
    pod = find(objects, "Deployment", "echo")["spec"]["template"]["spec"]
    assert "securityContext" not in pod  # run_as_user 0: the image runs as root
    # The emitter, not hand-written quotes, produced every value: each is double-quoted.
    text = (infra_repo / "apps/echo/deployment.yaml").read_text()
    assert '              value: "yes"\n' in text
    assert '              value: "line one\\nline two\\n"\n' in text


def copier_copy_web(template: Path, destination: Path, clusters: str, *flags: str) -> str:
    """`copier copy --trust` of service web into `destination`; returns stderr."""
    answers = [
        "kind=service",
        "service=web",
        "registry=gitea.example.com",
        "owner=team",
        f"clusters={clusters}",
    ]
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "copier"),
            "copy",
            "--trust",
            "--defaults",
            *flags,
            *(arg for answer in answers for arg in ("--data", answer)),
            str(template),
            str(destination),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_plain_copier_copy_runs_the_registration_task(
    infra_repo: Path, template_repo: Path
) -> None:
    copier_copy_web(template_repo, infra_repo / "apps/web", "[koala, iguana]")
    assert cluster_resources(infra_repo, "koala") == ["../../apps/web"]
    assert cluster_resources(infra_repo, "iguana") == ["../../apps/web"]
    # Stamping the same folder again (copier copy --overwrite) still lists it once.
    copier_copy_web(template_repo, infra_repo / "apps/web", "[koala]", "--overwrite")
    assert cluster_resources(infra_repo, "koala") == ["../../apps/web"]
    assert cluster_resources(infra_repo, "iguana") == []  # moved off iguana by its answers
    build_and_validate(infra_repo / "clusters/koala")


def test_a_missing_cluster_is_created_only_when_asked(
    infra_repo: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [
        "--service",
        "web",
        "--clusters",
        "lynx",
        "-d",
        "registry=gitea.example.com",
        "-d",
        "owner=team",
    ]
    before = tree_bytes(infra_repo)
    assert onboard(infra_repo, template_repo, *base) == 2
    assert "cluster 'lynx' has no clusters/lynx/kustomization.yaml" in capsys.readouterr().err
    assert tree_bytes(infra_repo) == before
    assert onboard(infra_repo, template_repo, *base, "--create-clusters") == 0
    assert cluster_resources(infra_repo, "lynx") == ["../../apps/web"]
    build_and_validate(infra_repo / "clusters/lynx")


def test_onboarding_twice_is_refused_and_lists_the_service_once(
    infra_repo: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = WEB_ARGS
    assert onboard(infra_repo, template_repo, *args) == 0
    before = tree_bytes(infra_repo)
    assert onboard(infra_repo, template_repo, *args) == 2
    assert "apps/web already exists" in capsys.readouterr().err
    assert tree_bytes(infra_repo) == before
    assert cluster_resources(infra_repo, "koala") == ["../../apps/web"]


def test_the_template_defaults_to_the_one_the_infra_repo_was_stamped_from(
    infra_repo: Path,
) -> None:
    code = main(["onboard", "--infra", str(infra_repo), *WEB_ARGS])
    assert code == 0
    answers = load_yaml(infra_repo / "apps/web/.copier-answers.yml")
    assert answers["_src_path"] == load_yaml(infra_repo / ".copier-answers.yml")["_src_path"]


def test_offboard_unregisters_everywhere_and_deletes_the_folder(
    infra_repo: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pristine = tree_bytes(infra_repo)
    assert (
        onboard(
            infra_repo,
            template_repo,
            "--service",
            "web",
            "--clusters",
            "koala,iguana",
            "-d",
            "registry=gitea.example.com",
            "-d",
            "owner=team",
        )
        == 0
    )
    # Without a terminal and without --yes it refuses, changing nothing.
    onboarded = tree_bytes(infra_repo)
    assert main(["offboard", "--infra", str(infra_repo), "web"]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert tree_bytes(infra_repo) == onboarded
    assert main(["offboard", "--infra", str(infra_repo), "web", "--yes"]) == 0
    # The shared registry pull secret belongs to the infra repo, not to the service: it
    # stays for the next service (its credentials are set once, at infra set-up).
    shared = {k for k in tree_bytes(infra_repo) if k.startswith("pull-secrets/")}
    assert shared == {
        "pull-secrets/registry-credentials/kustomization.yaml",
        "pull-secrets/registry-credentials/secret.enc.yaml",
    }
    left = {k: v for k, v in tree_bytes(infra_repo).items() if k not in shared}
    assert left == pristine
    assert main(["offboard", "--infra", str(infra_repo), "web", "--yes"]) == 2
    assert "apps/web does not exist" in capsys.readouterr().err
