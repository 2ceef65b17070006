"""`copier update` of a stamped service over two real tagged template versions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from copier import run_copy

from generator.check import check, render_text
from generator.kustomization import components, image_tag, resources, set_image_tag
from generator.onboard import init_infra, onboard_service
from tests.helpers import (
    PROJECT,
    AgeKey,
    build_and_validate,
    commit_all,
    copier_cli,
    find,
    git,
    load_yaml,
    snapshot_template,
)

IMAGE = "gitea.example.com/team/web"


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repo tagged v1.0.0 (as on disk) and v2.0.0 (a fix to deployment.yaml)."""
    repo = snapshot_template(tmp_path_factory.mktemp("two-versions") / "template", "v1.0.0")
    deployment = repo / "template/service/deployment.yaml.jinja"
    text = deployment.read_text()
    assert "revisionHistoryLimit: 3" in text
    deployment.write_text(text.replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 5"))
    commit_all(repo, "keep five revisions")
    git("tag", "v2.0.0", cwd=repo)
    return repo


def copier_update(*args: str, cwd: Path) -> int:
    return copier_cli("update", "--trust", "--defaults", *args, cwd=cwd)


def web_at_v1(infra: Path, template: Path, age_key: AgeKey) -> Path:
    """An infra repo (koala, iguana) stamped at v1.0.0 with service web on koala."""
    infra.mkdir()
    git("init", "-q", "-b", "main", cwd=infra)
    recipients = {"age_recipients": [age_key.public]}
    init_infra(infra, ["koala", "iguana"], str(template), vcs_ref="v1.0.0", extra=recipients)
    answers = {"service": "web", "registry": "gitea.example.com", "owner": "team"}
    onboard_service(infra, {**answers, "clusters": ["koala"]}, vcs_ref="v1.0.0")
    return infra


@pytest.fixture(scope="module")
def pristine_web_v1(
    tmp_path_factory: pytest.TempPathFactory, two_versions: Path, age_key: AgeKey
) -> Path:
    """`web_at_v1` over `two_versions`, built once; tests take a copy (`web_v1`)."""
    return web_at_v1(tmp_path_factory.mktemp("web-v1") / "infra", two_versions, age_key)


@pytest.fixture
def web_v1(tmp_path: Path, pristine_web_v1: Path) -> Path:
    infra = tmp_path / "infra"
    shutil.copytree(pristine_web_v1, infra, symlinks=True)
    return infra


def test_update_applies_v2_and_keeps_hand_edits_and_the_cd_tag(
    web_v1: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    infra = web_v1
    commit_all(infra, "onboard web at v1")
    assert load_yaml(infra / "apps/web/.copier-answers.yml")["_commit"] == "v1.0.0"

    # A hand edit v2 does not touch, and a tag bump by CD.
    service = infra / "apps/web/service.yaml"
    service.write_text(
        service.read_text().replace("spec:\n", 'spec:\n  sessionAffinity: "ClientIP"\n', 1)
    )
    kustomization = infra / "apps/web/kustomization.yaml"
    kustomization.write_text(set_image_tag(kustomization.read_text(), IMAGE, "3f2c1e0"))
    commit_all(infra, "hand edit and deploy 3f2c1e0")
    clusters_before = {
        c: (infra / "clusters" / c / "kustomization.yaml").read_bytes() for c in ("koala", "iguana")
    }

    tasks_started: list[Path] = []
    run = subprocess.run

    def watch_tasks(args: object, *rest: object, **options: object) -> object:
        if isinstance(args, list) and "_task" in args:
            tasks_started.append(Path.cwd())
        return run(args, *rest, **options)  # type: ignore[call-overload]

    with monkeypatch.context() as patch:
        patch.setattr(subprocess, "run", watch_tasks)
        code = copier_update("apps/web", cwd=infra)
    assert code == 0
    # One task process, in the real destination: none in Copier's scratch renders of v1
    # and v2 (the task's `when:`).
    assert tasks_started == [infra / "apps/web"]

    assert load_yaml(infra / "apps/web/.copier-answers.yml")["_commit"] == "v2.0.0"
    deployment = load_yaml(infra / "apps/web/deployment.yaml")
    assert deployment["spec"]["revisionHistoryLimit"] == 5
    assert 'sessionAffinity: "ClientIP"' in service.read_text()
    assert image_tag(kustomization.read_text(), IMAGE) == "3f2c1e0"
    for path in (infra / "apps/web").rglob("*"):
        assert path.is_dir() or "<<<<<<<" not in path.read_text(), path
    # The task ran once, for real: the clusters are as they were (web stays on koala only),
    # and Copier's scratch renders of v1 and v2 did not fail looking for clusters/.
    for cluster, before in clusters_before.items():
        assert (infra / "clusters" / cluster / "kustomization.yaml").read_bytes() == before
    objects = build_and_validate(infra / "clusters/koala")
    assert (
        find(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]["image"]
        == f"{IMAGE}:3f2c1e0"
    )


def test_update_with_new_clusters_moves_the_service(web_v1: Path) -> None:
    infra = web_v1
    commit_all(infra, "onboard web")
    code = copier_update("--data", "clusters=[iguana]", "apps/web", cwd=infra)
    assert code == 0
    koala = resources((infra / "clusters/koala/kustomization.yaml").read_text())
    iguana = resources((infra / "clusters/iguana/kustomization.yaml").read_text())
    assert (koala, iguana) == ([], ["../../apps/web"])


# The last template before every service had its own Component (local/).
BEFORE_COMPONENTS = "a892b3848cd56a156d9d610193b0fada0871a85a"


def template_at(commit: str, destination: Path, tag: str) -> Path:
    """The project's template as it was at `commit`, committed and tagged in a fresh repo."""
    destination.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", commit, "copier.yml", "template"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)
    git("init", "-q", "-b", "main", cwd=destination)
    commit_all(destination, f"template {tag}")
    git("tag", tag, cwd=destination)
    return destination


def test_update_from_the_release_before_components_adds_local_to_every_service(
    tmp_path: Path, age_key: AgeKey
) -> None:
    template = template_at(BEFORE_COMPONENTS, tmp_path / "template", "v1.0.0")
    assert not (template / "template/service/local").exists()
    infra = web_at_v1(tmp_path / "infra", template, age_key)
    onboard_service(
        infra,
        {
            "service": "api",
            "registry": "gitea.example.com",
            "owner": "team",
            "clusters": ["iguana"],
        },
        vcs_ref="v1.0.0",
    )
    kustomization = infra / "apps/web/kustomization.yaml"
    kustomization.write_text(set_image_tag(kustomization.read_text(), IMAGE, "3f2c1e0"))
    commit_all(infra, "web and api at the release before components; web deployed")
    # This release, on top of the same history.
    snapshot_template(template, "v2.0.0")

    for service in ("web", "api"):
        code = copier_update(f"apps/{service}", cwd=infra)
        assert code == 0
        folder = infra / "apps" / service
        assert load_yaml(folder / ".copier-answers.yml")["_commit"] == "v2.0.0"
        assert load_yaml(folder / "local/kustomization.yaml")["kind"] == "Component"
        assert load_yaml(folder / "kustomization.yaml")["components"] == ["local"]
        for path in folder.rglob("*.yaml"):
            assert "<<<<<<<" not in path.read_text(), path
    assert image_tag(kustomization.read_text(), IMAGE) == "3f2c1e0"
    for cluster in ("koala", "iguana"):
        build_and_validate(infra / "clusters" / cluster)


# The last release before a service on several clusters had one overlay per cluster.
BEFORE_OVERLAYS = "db38141a09cdb481069967516587b08be0a5b0c0"
DIGEST = "sha256:" + "3f" * 32
HAND_EDIT = 'commonAnnotations:\n  team.example.com/owner: "web-team"\n'


def cd_deploys(kustomization: Path, tag: str, digest: str) -> None:
    """CD's one structured edit of the file it deploys to (the template's awk program)."""
    awk = PROJECT / "template/shared/bump-newtag.awk"
    bumped = subprocess.run(
        [
            *("awk", "-v", f"image={IMAGE}", "-v", f"tag={tag}", "-v", f"digest={digest}"),
            *("-f", str(awk), str(kustomization), str(kustomization)),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    kustomization.write_text(bumped)


def test_update_moves_a_two_cluster_service_to_overlays_keeping_its_tag_and_hand_edits(
    tmp_path: Path, age_key: AgeKey
) -> None:
    template = template_at(BEFORE_OVERLAYS, tmp_path / "template", "v1.0.0")
    infra = tmp_path / "infra"
    infra.mkdir()
    git("init", "-q", "-b", "main", cwd=infra)
    recipients = {"age_recipients": [age_key.public]}
    init_infra(infra, ["koala", "iguana"], str(template), vcs_ref="v1.0.0", extra=recipients)
    # Plain Copier, as the release stamped it: the base holds the one image entry.
    run_copy(
        str(template),
        infra / "apps/web",
        data={
            "kind": "service",
            "service": "web",
            "registry": "gitea.example.com",
            "owner": "team",
            "clusters": ["koala", "iguana"],
            "image_pull_secret": "",
        },
        vcs_ref="v1.0.0",
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    base = infra / "apps/web/kustomization.yaml"
    assert not (infra / "apps/web/clusters").exists() and "images:" in base.read_text()
    cd_deploys(base, "3f2c1e0", DIGEST)
    local = infra / "apps/web/local/kustomization.yaml"
    local.write_text(local.read_text() + HAND_EDIT)
    commit_all(infra, "web on koala and iguana at v1; deployed 3f2c1e0; a hand edit")
    snapshot_template(template, "v2.0.0")  # this release, on top of the same history

    code = copier_update("apps/web", cwd=infra)
    assert code == 0

    assert load_yaml(infra / "apps/web/.copier-answers.yml")["_commit"] == "v2.0.0"
    for path in (infra / "apps/web").rglob("*"):
        assert path.is_dir() or "<<<<<<<" not in path.read_text(), path
        assert not path.name.endswith(".rej"), path
    assert "images:" not in base.read_text()
    assert local.read_text().endswith(HAND_EDIT)
    for cluster in ("koala", "iguana"):
        overlay = infra / f"apps/web/clusters/{cluster}/kustomization.yaml"
        assert image_tag(overlay.read_text(), IMAGE) == "3f2c1e0"
        assert load_yaml(overlay)["images"][0]["digest"] == DIGEST
        listing = (infra / "clusters" / cluster / "kustomization.yaml").read_text()
        assert resources(listing) == ["../../apps/web"]
        assert components(listing) == [f"../../apps/web/clusters/{cluster}"]
        objects = build_and_validate(infra / "clusters" / cluster)
        deployment = find(objects, "Deployment", "web")
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
            f"{IMAGE}:3f2c1e0@{DIGEST}"
        )
        assert deployment["metadata"]["annotations"]["team.example.com/owner"] == "web-team"
    commit_all(infra, "update web to v2")
    report = check(infra, offline=True)
    assert report.ok, render_text(report)
    assert {(d.cluster, d.tag) for d in report.deployed} == {
        ("koala", "3f2c1e0"),
        ("iguana", "3f2c1e0"),
    }


def test_update_leaves_a_single_cluster_service_as_it_was(tmp_path: Path, age_key: AgeKey) -> None:
    template = template_at(BEFORE_OVERLAYS, tmp_path / "template", "v1.0.0")
    infra = web_at_v1(tmp_path / "infra", template, age_key)
    base = infra / "apps/web/kustomization.yaml"
    cd_deploys(base, "3f2c1e0", DIGEST)
    commit_all(infra, "web on koala at v1, deployed")
    before = {p.relative_to(infra): p.read_bytes() for p in infra.rglob("*") if p.is_file()}
    snapshot_template(template, "v2.0.0")

    code = copier_update("apps/web", cwd=infra)
    assert code == 0

    after = {p.relative_to(infra): p.read_bytes() for p in infra.rglob("*") if p.is_file()}
    changed = {str(p) for p in after if ".git" not in p.parts and after[p] != before.get(p)}
    assert changed == {"apps/web/.copier-answers.yml"}


def test_update_to_a_second_cluster_moves_a_deployed_service_to_overlays(web_v1: Path) -> None:
    infra = web_v1
    base = infra / "apps/web/kustomization.yaml"
    cd_deploys(base, "3f2c1e0", DIGEST)
    commit_all(infra, "web on koala, deployed")

    code = copier_update("--data", "clusters=[koala, iguana]", "apps/web", cwd=infra)
    assert code == 0

    for path in (infra / "apps/web").rglob("*"):
        assert path.is_dir() or "<<<<<<<" not in path.read_text(), path
    assert "images:" not in base.read_text()
    for cluster in ("koala", "iguana"):
        overlay = infra / f"apps/web/clusters/{cluster}/kustomization.yaml"
        assert image_tag(overlay.read_text(), IMAGE) == "3f2c1e0"
        listing = (infra / "clusters" / cluster / "kustomization.yaml").read_text()
        assert components(listing) == [f"../../apps/web/clusters/{cluster}"]
        objects = build_and_validate(infra / "clusters" / cluster)
        image = find(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]
        assert image["image"] == f"{IMAGE}:3f2c1e0@{DIGEST}"


def test_update_back_to_one_cluster_gives_the_base_that_clusters_tag(
    tmp_path: Path, two_versions: Path, age_key: AgeKey
) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    git("init", "-q", "-b", "main", cwd=infra)
    recipients = {"age_recipients": [age_key.public]}
    init_infra(infra, ["koala", "iguana"], str(two_versions), vcs_ref="v1.0.0", extra=recipients)
    answers = {"service": "web", "registry": "gitea.example.com", "owner": "team"}
    onboard_service(infra, {**answers, "clusters": ["koala", "iguana"]}, vcs_ref="v1.0.0")
    cd_deploys(infra / "apps/web/clusters/koala/kustomization.yaml", "3f2c1e0", DIGEST)
    commit_all(infra, "web on koala and iguana, koala deployed")

    code = copier_update("--data", "clusters=[koala]", "apps/web", cwd=infra)
    assert code == 0

    base = (infra / "apps/web/kustomization.yaml").read_text()
    assert image_tag(base, IMAGE) == "3f2c1e0" and DIGEST in base
    listing = (infra / "clusters/koala/kustomization.yaml").read_text()
    assert (resources(listing), components(listing)) == (["../../apps/web"], [])
    objects = build_and_validate(infra / "clusters/koala")
    image = find(objects, "Deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    assert image["image"] == f"{IMAGE}:3f2c1e0@{DIGEST}"
