"""One service on several clusters: a base plus one overlay per cluster, each with its values.

A service on three clusters with different replicas, env, resources, hosts and node gets
`apps/web/clusters/<cluster>/kustomization.yaml` for each cluster; every cluster builds with
`kubectl kustomize`, validates strictly, and shows its own values and its own image tag.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from generator.kustomization import components, image_tag, resources
from generator.onboard import onboard_service
from tests.helpers import PROJECT, build_and_validate, commit_all, find, load_yaml

IMAGE = "gitea.example.com/team/web"
AWK = PROJECT / "template/shared/bump-newtag.awk"
THREE = {
    "service": "web",
    "registry": "gitea.example.com",
    "owner": "team",
    "clusters": ["koala", "iguana", "emu"],
    "expose": "ingress",
    "hosts": ["web.example.com"],
    "tls": "cert-manager",
    "cluster_issuer": "letsencrypt",
    "env": {"LOG_LEVEL": "info", "REGION": "home"},
    "cluster_overrides": {
        "iguana": {
            "replicas": 3,
            "env": {"LOG_LEVEL": "warn", "FEATURE": "on"},
            "hosts": ["web.iguana.example.com"],
            "cpu_limit": "500m",
            "memory_limit": "",
        },
        "emu": {"node_hostname": "emu-1", "memory_request": "128Mi"},
    },
}


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = find(objects, "Deployment", "web")["spec"]["template"]["spec"][
        "containers"
    ][0]
    return found


def env_of(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container(objects).get("env", [])}


def cd_bump(overlay: Path, tag: str) -> None:
    """What the CD workflow does to the kustomization it deploys to: one structured edit."""
    bumped = subprocess.run(
        ["awk", "-v", f"image={IMAGE}", "-v", f"tag={tag}", "-f", str(AWK), overlay, overlay],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    overlay.write_text(bumped)


def test_three_clusters_build_each_with_its_own_values(infra_repo: Path) -> None:
    onboard_service(infra_repo, THREE, create_clusters=True)
    commit_all(infra_repo, "onboard web on three clusters")
    base = (infra_repo / "apps/web/kustomization.yaml").read_text()
    assert "images:" not in base and load_yaml(infra_repo / "apps/web/kustomization.yaml")[
        "components"
    ] == ["local"]
    for cluster in ("koala", "iguana", "emu"):
        listing = (infra_repo / "clusters" / cluster / "kustomization.yaml").read_text()
        assert "../../apps/web" in resources(listing)
        assert components(listing) == [f"../../apps/web/clusters/{cluster}"]
        overlay = (infra_repo / f"apps/web/clusters/{cluster}/kustomization.yaml").read_text()
        assert overlay.rstrip("\n").splitlines()[-3:] == [
            "images:",
            f'  - name: "{IMAGE}"',
            '    newTag: "latest"',
        ]

    # CD deploys 3f2c1e0 to koala only: the other clusters keep their image.
    cd_bump(infra_repo / "apps/web/clusters/koala/kustomization.yaml", "3f2c1e0")

    built = {c: build_and_validate(infra_repo / "clusters" / c) for c in ("koala", "iguana", "emu")}
    images = {c: container(objects)["image"] for c, objects in built.items()}
    assert images == {
        "koala": f"{IMAGE}:3f2c1e0",
        "iguana": f"{IMAGE}:latest",
        "emu": f"{IMAGE}:latest",
    }
    replicas = {c: find(o, "Deployment", "web")["spec"]["replicas"] for c, o in built.items()}
    assert replicas == {"koala": 1, "iguana": 3, "emu": 1}
    # More than one pod can run on iguana: a node drain there takes one pod at a time.
    budgets = {
        c: [o for o in objs if o["kind"] == "PodDisruptionBudget"] for c, objs in built.items()
    }
    assert budgets["iguana"] and budgets["iguana"][0]["spec"]["maxUnavailable"] == 1
    assert env_of(built["koala"]) == {"LOG_LEVEL": "info", "REGION": "home"}
    assert env_of(built["iguana"]) == {"LOG_LEVEL": "warn", "REGION": "home", "FEATURE": "on"}
    assert env_of(built["emu"]) == env_of(built["koala"])
    hosts = {
        c: [rule["host"] for rule in find(o, "Ingress", "web")["spec"]["rules"]]
        for c, o in built.items()
    }
    assert hosts == {
        "koala": ["web.example.com"],
        "iguana": ["web.iguana.example.com"],
        "emu": ["web.example.com"],
    }
    tls = find(built["iguana"], "Ingress", "web")["spec"]["tls"][0]["hosts"]
    assert tls == ["web.iguana.example.com"]
    resources_of = {c: container(o)["resources"] for c, o in built.items()}
    assert resources_of["koala"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"memory": "256Mi"},
    }
    assert resources_of["iguana"]["limits"] == {"cpu": "500m"}
    assert resources_of["emu"]["requests"] == {"cpu": "50m", "memory": "128Mi"}
    selectors = {
        c: find(o, "Deployment", "web")["spec"]["template"]["spec"].get("nodeSelector")
        for c, o in built.items()
    }
    assert selectors == {"koala": None, "iguana": None, "emu": {"kubernetes.io/hostname": "emu-1"}}


def test_a_single_cluster_service_has_no_overlay(infra_repo: Path) -> None:
    onboard_service(
        infra_repo,
        {"service": "web", "registry": "gitea.example.com", "owner": "team", "clusters": ["koala"]},
    )
    assert not (infra_repo / "apps/web/clusters").exists()
    listing = (infra_repo / "clusters/koala/kustomization.yaml").read_text()
    assert resources(listing) == ["../../apps/web"] and components(listing) == []
    base = (infra_repo / "apps/web/kustomization.yaml").read_text()
    assert image_tag(base, IMAGE) == "latest"
