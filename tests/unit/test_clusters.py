"""Registering a service across many clusters: planned, then applied all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import clusters, infra_root, transaction
from generator.errors import InputError
from generator.kubectl import kustomize_build
from generator.kustomization import resources
from generator.transaction import WriteFailed
from tests.helpers import tree_bytes

NAMES = [f"edge-{i:02d}" for i in range(12)]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in NAMES:
        path = clusters.cluster_file(tmp_path, name)
        path.parent.mkdir(parents=True)
        path.write_text(
            f"# {name}\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            "resources:\n  - ../../infrastructure  # platform\n"
        )
    (tmp_path / "apps/web").mkdir(parents=True)
    return tmp_path


def listed(root: Path, name: str) -> list[str]:
    return resources(clusters.cluster_file(root, name).read_text())


def test_register_in_many_clusters_then_unregister_restores_bytes(root: Path) -> None:
    before = tree_bytes(root)
    web = root / "apps/web"
    written = transaction.apply(clusters.plan_register(root, web, NAMES[:8]))
    assert len(written) == 8
    for name in NAMES[:8]:
        assert listed(root, name) == ["../../infrastructure", "../../apps/web"]
    for name in NAMES[8:]:
        assert listed(root, name) == ["../../infrastructure"]
    assert clusters.registered_clusters(root, web) == NAMES[:8]
    assert clusters.plan_register(root, web, NAMES[:8]) == []  # idempotent
    transaction.apply(clusters.plan_unregister(root, web))
    assert tree_bytes(root) == before


def test_reconcile_lists_the_service_in_exactly_its_clusters(root: Path) -> None:
    web = root / "apps/web"
    transaction.apply(clusters.plan_register(root, web, NAMES[:3]))
    transaction.apply(clusters.plan_reconcile(root, web, NAMES[2:5]))
    assert clusters.registered_clusters(root, web) == NAMES[2:5]


def test_a_bad_cluster_file_stops_the_plan_before_any_write(root: Path) -> None:
    clusters.cluster_file(root, NAMES[5]).write_text("resources: {a: b}\n")
    before = tree_bytes(root)
    with pytest.raises(InputError, match=f"clusters/{NAMES[5]}/kustomization.yaml: resources"):
        clusters.plan_register(root, root / "apps/web", NAMES)
    assert tree_bytes(root) == before


def test_a_failed_write_restores_the_files_already_written(root: Path) -> None:
    (root / "clusters/blocked").write_text("a file where a cluster folder should be\n")
    before = tree_bytes(root)
    plan = clusters.plan_register(
        root, root / "apps/web", [*NAMES[:4], "blocked"], create_missing=True
    )
    with pytest.raises(WriteFailed, match=r"cannot write .*clusters/blocked/kustomization\.yaml"):
        transaction.apply(plan)
    assert tree_bytes(root) == before


def test_missing_clusters_are_created_only_when_asked(root: Path) -> None:
    with pytest.raises(
        InputError, match=r"cluster 'lynx' has no clusters/lynx/kustomization\.yaml"
    ):
        clusters.plan_register(root, root / "apps/web", ["lynx"])
    transaction.apply(
        clusters.plan_register(root, root / "apps/web", ["lynx"], create_missing=True)
    )
    assert listed(root, "lynx") == ["../../apps/web"]
    assert "lynx" in clusters.list_clusters(root)


def test_find_infra_root_walks_up_and_explains_a_miss(root: Path, tmp_path: Path) -> None:
    assert infra_root.find_infra_root(root / "apps/web") == root.resolve()
    lonely = tmp_path.parent / "lonely"
    lonely.mkdir(exist_ok=True)
    with pytest.raises(InputError, match="not inside an infra repo"):
        infra_root.find_infra_root(lonely)


def test_new_clusters_build_empty_and_after_the_last_service_leaves(tmp_path: Path) -> None:
    web = tmp_path / "apps/web"
    web.mkdir(parents=True)
    (web / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n"
    )
    (web / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n")
    transaction.apply(clusters.plan_register(tmp_path, web, ["lynx"], create_missing=True))
    assert [o["kind"] for o in kustomize_build(tmp_path / "clusters/lynx")] == ["ConfigMap"]
    transaction.apply(clusters.plan_unregister(tmp_path, web))
    assert clusters.cluster_file(tmp_path, "lynx").read_text() == clusters.new_cluster_text("lynx")
    assert kustomize_build(tmp_path / "clusters/lynx") == []  # kustomize accepts it


def test_a_new_cluster_lists_flux_system_when_flux_is_bootstrapped(tmp_path: Path) -> None:
    flux_system = tmp_path / "clusters/lynx/flux-system"
    flux_system.mkdir(parents=True)
    (flux_system / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
        "- sync.yaml\n"
    )
    (flux_system / "sync.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sync\n  namespace: flux-system\n"
    )
    web = tmp_path / "apps/web"
    web.mkdir(parents=True)
    transaction.apply(clusters.plan_register(tmp_path, web, ["lynx"], create_missing=True))
    assert listed(tmp_path, "lynx") == ["flux-system", "../../apps/web"]
