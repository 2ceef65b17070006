"""Stage then promote, run for real: the app's deploy job and the infra repo's promote workflow.

`web` runs on koala, iguana and gecko, each with its own overlay. The deploy job of its
stamped `cd.yml` sets the new tag on one cluster only (`deploy_cluster`, by default the first
of its clusters); the stamped `promote.yml` of the infra repo then moves that tag to the
others with `gitops-onboard promote`, commits and pushes. Both run through the workflow
harness (real bash, git and awk; `buildctl` and `skopeo` stood in) against one bare infra
repo on disk; a deploy and a promotion that race lose nothing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from generator.kustomization import image_tag
from tests.conftest import make_hermetic
from tests.helpers import build_and_validate, commit_all, find, git
from tests.stage_world import (
    CLUSTERS,
    IMAGE,
    Jobs,
    World,
    build_world,
    landed,
    make_jobs,
    overlay_file,
    tags,
)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> World:
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("promote-workflow-home"), mp)
        return build_world(
            tmp_path_factory.mktemp("promote-workflow"), template_repo, pristine_infra
        )


@pytest.fixture
def jobs(world: World, tmp_path: Path) -> Jobs:
    return make_jobs(world, tmp_path)


def test_cd_deploys_to_the_first_cluster_then_promote_moves_the_tag_to_the_others(
    jobs: Jobs, world: World
) -> None:
    sha = git("rev-parse", "HEAD", cwd=world.apps[""]).strip()
    before = {c: world.show(overlay_file(c)) for c in CLUSTERS}

    landed(jobs.deploy())

    assert world.subjects()[0] == f"chore(deploy): web → {sha}"
    assert world.changed() == [overlay_file("koala")]
    assert tags(world) == {"koala": sha, "iguana": "latest", "gecko": "latest"}
    koala = world.show(overlay_file("koala"))
    digest = koala.split('digest: "')[1].split('"')[0]

    result = jobs.promote("web", "koala", "all")

    assert result.returncode == 0, result.stdout + result.stderr
    message = f"chore(promote): web {sha} from koala to iguana, gecko"
    assert world.subjects()[:2] == [message, f"chore(deploy): web → {sha}"]
    assert sorted(world.changed()) == sorted([overlay_file("iguana"), overlay_file("gecko")])
    pinned = f'    newTag: "{sha}"\n    digest: "{digest}"\n'
    for cluster in ("iguana", "gecko"):
        after = world.show(overlay_file(cluster))
        assert after == before[cluster].replace('    newTag: "latest"\n', pinned)
    checkout = jobs.tmp / "verify"
    git("clone", "-q", str(world.remote), str(checkout), cwd=jobs.tmp)
    for cluster in CLUSTERS:
        deployment = find(build_and_validate(checkout / "clusters" / cluster), "Deployment", "web")
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == f"{IMAGE}:{sha}@{digest}", cluster

    head = git("rev-parse", "refs/heads/main", cwd=world.remote)
    again = jobs.promote("web", "koala", "all")
    assert again.returncode == 0 and "nothing to promote" in again.stdout
    assert git("rev-parse", "refs/heads/main", cwd=world.remote) == head


def test_the_deploy_cluster_answer_picks_theoverlay_file(jobs: Jobs, world: World) -> None:
    sha = git("rev-parse", "HEAD", cwd=world.apps["iguana"]).strip()
    landed(jobs.deploy("iguana"))
    assert world.changed() == [overlay_file("iguana")]
    assert tags(world) == {"koala": "latest", "iguana": sha, "gecko": "latest"}


def test_a_deploy_cluster_the_service_is_not_on_fails_the_job(jobs: Jobs, world: World) -> None:
    head = git("rev-parse", "refs/heads/main", cwd=world.remote)
    results = jobs.deploy("emu")
    assert [r.returncode for r in results] == [0, 1]
    errors = [line for line in results[1].stderr.splitlines() if line.startswith("::error::")]
    assert errors == [
        "::error::deploy_cluster emu is not one of the clusters of web (koala iguana gecko) on main"
    ]
    assert git("rev-parse", "refs/heads/main", cwd=world.remote) == head


@pytest.mark.parametrize(
    ("service", "source", "to", "says"),
    [
        ("../web", "koala", "all", "service:"),
        ("web", "koala", "emu", "--to:"),
        ("web", "koala/..", "all", "--from:"),
        ("web", "iguana", "all", "nothing to promote"),
    ],
)
def test_the_promote_workflow_refuses_bad_input_and_pushes_nothing(
    jobs: Jobs, world: World, service: str, source: str, to: str, says: str
) -> None:
    """The inputs reach the script through its environment, and gitops-onboard refuses them;
    iguana's overlay carries the template's tag, which is no tag CD deployed."""
    if says == "nothing to promote":
        # iguana has no tag: drop its newTag line, as a hand edit could.
        work = jobs.tmp / "edit"
        git("clone", "-q", str(world.remote), str(work), cwd=jobs.tmp)
        path = work / overlay_file("iguana")
        path.write_text("".join(x for x in path.read_text().splitlines(True) if "newTag" not in x))
        commit_all(work, "drop iguana's tag")
        git("push", "-q", "origin", "HEAD:main", cwd=work)
    head = git("rev-parse", "refs/heads/main", cwd=world.remote)
    result = jobs.promote(service, source, to)
    assert result.returncode in (1, 2)
    assert says in result.stderr
    assert git("rev-parse", "refs/heads/main", cwd=world.remote) == head


def test_a_rejected_push_is_promoted_again_on_the_new_head(jobs: Jobs, world: World) -> None:
    landed(jobs.deploy())
    runner = jobs.runner("promote")
    hooks = runner.root / "hooks"
    hooks.mkdir()
    other = runner.root / "other"
    (hooks / "pre-push").write_text(
        f"""#!/usr/bin/env bash
set -euo pipefail
[[ -e '{other}' ]] && exit 0
git clone -q '{world.remote}' '{other}'
cd '{other}'
echo "someone else" > NOTES.md
git add -A
git -c user.name=S -c user.email=s@example.com commit -q -m "someone else"
git -c core.hooksPath=/dev/null push -q origin HEAD:main
"""
    )
    (hooks / "pre-push").chmod(0o755)
    runner.gitconfig.write_text(f"[init]\n\tdefaultBranch = main\n[core]\n\thooksPath = {hooks}\n")

    result = jobs.promote("web", "koala", "all", runner)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Push rejected; promoting again" in result.stdout
    assert world.subjects()[1] == "someone else"
    assert world.subjects()[0].startswith("chore(promote): web ")
    assert len(set(tags(world).values())) == 1


def test_deploys_and_promotions_that_race_lose_nothing(jobs: Jobs, world: World) -> None:
    """Each round commits to the app, then its deploy and a promotion run at once."""
    app = world.apps[""]
    rounds = 3
    shas = []
    for n in range(rounds):
        (app / "CHANGES").write_text(f"round {n}\n")
        commit_all(app, f"round {n}")
        sha = git("rev-parse", "HEAD", cwd=app).strip()
        shas.append(sha)
        with ThreadPoolExecutor(max_workers=2) as pool:
            deployed = pool.submit(jobs.deploy, "", sha)
            promoted = pool.submit(jobs.promote, "web", "koala", "all")
            landed(deployed.result())
            result = promoted.result()
            assert result.returncode == 0, result.stdout + result.stderr
        assert tags(world)["koala"] == sha
    final = jobs.promote("web", "koala", "all")
    assert final.returncode == 0, final.stdout + final.stderr
    assert tags(world) == dict.fromkeys(CLUSTERS, shas[-1])

    subjects = world.subjects()
    assert [s for s in subjects if s.startswith("chore(deploy)")] == [
        f"chore(deploy): web → {sha}" for sha in reversed(shas)
    ]
    # Every promotion copied the tag koala had in the commit it was made on.
    log = git("log", "--format=%H %s", "refs/heads/main", cwd=world.remote).splitlines()
    for line in log:
        commit, subject = line.split(" ", 1)
        if not subject.startswith("chore(promote)"):
            continue
        source = image_tag(world.show(overlay_file("koala"), f"{commit}~1"), IMAGE)
        assert subject.startswith(f"chore(promote): web {source} from koala to ")
        for cluster in subject.split(" to ", 1)[1].split(", "):
            assert image_tag(world.show(overlay_file(cluster), commit), IMAGE) == source
