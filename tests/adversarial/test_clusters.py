"""One service on several clusters: each cluster's overlay, its tag, and what check sees.

Before, a service on koala and iguana got the same objects and one `newTag` in its base: CD's
one bump moved every cluster at once, and nothing could differ by cluster. With one overlay
per cluster, the ways to break it are a cluster that quietly builds the base instead of its
overlay, an overlay edited by hand (or copied from another cluster), an overlay left behind
for a cluster the service left, and an update or offboarding that loses or leaves an entry.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from generator.check import Finding, check
from generator.cli import main
from generator.kustomization import add_resource, components, remove_resource, resources
from generator.onboard import offboard, onboard_service
from generator.plan import plan_service
from generator.spec import ServiceSpec
from tests.helpers import PROJECT, build_and_validate, commit_all, find, tree_bytes

IMAGE = "gitea.example.com/team/web"
AWK = PROJECT / "template/shared/bump-newtag.awk"
WEB = {
    "service": "web",
    "registry": "gitea.example.com",
    "owner": "team",
    "clusters": ["koala", "iguana"],
    "image_pull_secret": "",
    "cluster_overrides": {"iguana": {"replicas": 3, "env": {"LOG_LEVEL": "warn"}}},
}


def cd_bump(path: Path, tag: str) -> None:
    """The CD workflow's edit of the one kustomization it deploys to."""
    path.write_text(
        subprocess.run(
            ["awk", "-v", f"image={IMAGE}", "-v", f"tag={tag}", "-f", str(AWK), path, path],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )


def findings(infra: Path, kind: str) -> list[Finding]:
    return [f for f in check(infra, offline=True).findings if f.check == kind]


@pytest.fixture
def web(infra_repo: Path) -> Path:
    """The infra repo with web on koala and iguana (iguana: 3 replicas), committed."""
    onboard_service(infra_repo, WEB)
    commit_all(infra_repo, "onboard web on two clusters")
    return infra_repo


def overlay(infra: Path, cluster: str) -> Path:
    return infra / f"apps/web/clusters/{cluster}/kustomization.yaml"


def test_a_fresh_two_cluster_service_is_clean_and_each_cluster_runs_its_own_tag(
    web: Path,
) -> None:
    cd_bump(overlay(web, "koala"), "3f2c1e0")
    report = check(web, offline=True)
    assert report.ok, report.findings
    assert {(d.cluster, d.tag) for d in report.deployed} == {
        ("koala", "3f2c1e0"),
        ("iguana", "latest"),
    }


def test_a_cluster_that_builds_the_base_without_its_overlay_is_reported(web: Path) -> None:
    """Dropping the components entry makes iguana run one replica and no tag: not silent."""
    listing = web / "clusters/iguana/kustomization.yaml"
    listing.write_text(
        remove_resource(listing.read_text(), "../../apps/web/clusters/iguana", field="components")
    )
    found = findings(web, "cluster")
    assert [f.path for f in found] == ["clusters/iguana/kustomization.yaml"]
    assert "without its overlay for iguana" in found[0].message
    assert "../../apps/web/clusters/iguana" in found[0].fix


def test_a_cluster_that_lists_another_clusters_overlay_is_reported(web: Path) -> None:
    listing = web / "clusters/koala/kustomization.yaml"
    text = remove_resource(listing.read_text(), "../../apps/web/clusters/koala", field="components")
    listing.write_text(add_resource(text, "../../apps/web/clusters/iguana", field="components"))
    messages = [f.message for f in findings(web, "cluster")]
    assert any("the overlay of another cluster" in m for m in messages), messages
    assert any("without its overlay for koala" in m for m in messages), messages


def test_a_hand_edit_in_an_overlay_is_drift_but_cds_tag_and_digest_are_not(web: Path) -> None:
    path = overlay(web, "iguana")
    cd_bump(path, "3f2c1e0")
    text = path.read_text().replace(
        'newTag: "3f2c1e0"', 'newTag: "3f2c1e0"\n    digest: "sha256:' + "a" * 64 + '"'
    )
    path.write_text(text)
    assert findings(web, "drift") == []
    path.write_text(text.replace("value: 3", "value: 30"))
    drift = findings(web, "drift")
    assert [f.path for f in drift] == ["apps/web/clusters/iguana/kustomization.yaml"]
    assert "+        value: 30" in drift[0].diff


def test_an_overlay_left_for_a_cluster_the_service_is_not_on_is_reported(web: Path) -> None:
    stray = web / "apps/web/clusters/emu"
    stray.mkdir()
    (stray / "kustomization.yaml").write_text(overlay(web, "koala").read_text())
    found = findings(web, "cluster")
    assert [f.path for f in found] == ["apps/web/clusters/emu"]
    assert "overlay for cluster emu" in found[0].message


def test_an_override_for_a_cluster_the_service_is_not_on_writes_nothing(
    infra_repo: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_bytes(infra_repo)
    code = main(
        [
            *("onboard", "--infra", str(infra_repo), "--template", str(template_repo)),
            *("--service", "web", "--clusters", "koala,iguana"),
            *("-d", "registry=gitea.example.com", "-d", "owner=team"),
            *("-d", "cluster_overrides={emu: {replicas: 2}}"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "cluster_overrides: emu: 'emu' is not one of the service's clusters" in err
    assert tree_bytes(infra_repo) == before


def test_a_replan_keeps_each_overlays_tag_and_applies_a_new_override(web: Path) -> None:
    """What the task does on `copier update`: new overrides, CD's tags untouched."""
    cd_bump(overlay(web, "koala"), "3f2c1e0")
    cd_bump(overlay(web, "iguana"), "9a8b7c6")
    spec = ServiceSpec.from_answers(
        {**WEB, "cluster_overrides": {"iguana": {"replicas": 5}, "koala": {"replicas": 2}}}
    )
    for change in plan_service(web, web / "apps/web", spec).changes:
        assert change.new is not None
        change.path.write_text(change.new)
    built = {c: build_and_validate(web / "clusters" / c) for c in ("koala", "iguana")}
    deployments = {c: find(o, "Deployment", "web") for c, o in built.items()}
    assert {c: d["spec"]["replicas"] for c, d in deployments.items()} == {"koala": 2, "iguana": 5}
    images = {
        c: d["spec"]["template"]["spec"]["containers"][0]["image"] for c, d in deployments.items()
    }
    assert images == {"koala": f"{IMAGE}:3f2c1e0", "iguana": f"{IMAGE}:9a8b7c6"}


def test_offboarding_removes_the_base_and_every_overlay_from_every_cluster(
    web: Path, pristine_infra: Path
) -> None:
    """Removing the resource before the component left a file with no field at all."""
    offboard(web, "web")
    for cluster in ("koala", "iguana"):
        listing = web / "clusters" / cluster / "kustomization.yaml"
        assert resources(listing.read_text()) == [] and components(listing.read_text()) == []
        pristine = pristine_infra / "clusters" / cluster / "kustomization.yaml"
        assert listing.read_bytes() == pristine.read_bytes()
    assert not (web / "apps/web").exists()
