"""Stage then promote, run for real: the app's deploy job and the infra repo's promote workflow.

`web` runs on koala, iguana and gecko, each with its own overlay. The deploy job of its
stamped `cd.yml` sets the new tag on one cluster only (`deploy_cluster`, by default the first
of its clusters); the stamped `promote.yml` of the infra repo then moves that tag to the
others with `gitops-onboard promote`, commits and pushes. Both run through the workflow
harness (real bash, git and awk; `buildctl` and `skopeo` stood in) against one bare infra
repo on disk; a deploy and a promotion that race lose nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator.copier_run import copying as copier_api
from generator.kustomization import image_tag
from tests.cd_burst import keypair
from tests.conftest import make_hermetic
from tests.helpers import build_and_validate, commit_all, find, git
from tests.promote_world import image_of, onboard_on_clusters
from tests.workflow_harness import Runner, StepResult, load_workflow

BIN = Path(sys.executable).parent
CLUSTERS = ("koala", "iguana", "gecko")
IMAGE = image_of("web")


def _overlay(cluster: str) -> str:
    return f"apps/web/clusters/{cluster}/kustomization.yaml"


@dataclass(frozen=True)
class World:
    """The bare infra repo (reset per test) and the app repos that deploy to it."""

    root: Path
    pristine: Path
    apps: dict[str, Path]  # by deploy_cluster answer ("" for the default)

    @property
    def server(self) -> Path:
        return self.root / "server"

    @property
    def remote(self) -> Path:
        return self.server / "team" / "infra.git"

    def reset(self) -> Path:
        if self.remote.exists():
            shutil.rmtree(self.remote)
        shutil.copytree(self.pristine, self.remote, symlinks=True)
        return self.remote

    def show(self, path: str, rev: str = "refs/heads/main") -> str:
        return git("show", f"{rev}:{path}", cwd=self.remote)

    def subjects(self) -> list[str]:
        return git("log", "--format=%s", "refs/heads/main", cwd=self.remote).splitlines()

    def changed(self, rev: str = "refs/heads/main") -> list[str]:
        return git("diff", "--name-only", f"{rev}~1", rev, cwd=self.remote).splitlines()


def _render_app(template: Path, destination: Path, remote: Path, deploy_cluster: str) -> Path:
    destination.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=destination)
    answers: dict[str, Any] = {
        "kind": "app",
        "service": "web",
        "registry": "gitea.example.com",
        "owner": "team",
        "language": "python",
        "infra_repo": f"file://{remote}",
        "deploy_cluster": deploy_cluster,
    }
    copier_api.copy(str(template), destination, answers)
    commit_all(destination, "stamp the app's CD files")
    return destination


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> World:
    root = tmp_path_factory.mktemp("promote-workflow")
    infra = root / "infra"
    shutil.copytree(pristine_infra, infra, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("promote-workflow-home"), mp)
        onboard_on_clusters(infra, template_repo, "web", list(CLUSTERS), image_pull_secret="")
        commit_all(infra, "onboard web on three clusters")
        pristine = root / "pristine.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(infra), str(pristine)], check=True)
        remote = root / "server" / "team" / "infra.git"
        apps = {
            answer: _render_app(template_repo, root / f"app-{answer or 'default'}", remote, answer)
            for answer in ("", "iguana", "emu")
        }
    return World(root, pristine, apps)


@dataclass
class Jobs:
    """Run the deploy job of an app and the promote workflow of the infra repo."""

    world: World
    tmp: Path
    secrets: dict[str, str]
    runs: int = 0

    def runner(self, name: str) -> Runner:
        self.runs += 1
        runner = Runner(
            self.tmp / f"runner-{name}-{self.runs}",
            overrides={"PUSH_RETRY_BASE_SECONDS": "0.2"},
        )
        # The stand-ins first, then the gitops-onboard under test.
        path = [str(runner.root / "bin"), str(BIN), os.environ["PATH"]]
        runner.extra_env["PATH"] = os.pathsep.join(path)
        return runner

    def deploy(self, deploy_cluster: str = "", sha: str | None = None) -> list[StepResult]:
        app = self.world.apps[deploy_cluster]
        context = {"github.sha": sha or git("rev-parse", "HEAD", cwd=app).strip(), **self.secrets}
        workflow = load_workflow(app / ".gitea/workflows/cd.yml")
        return self.runner("deploy").run_job(workflow, "deploy", app, context)

    def promote(
        self, service: str, source: str, to: str, runner: Runner | None = None
    ) -> StepResult:
        runner = runner or self.runner("promote")
        checkout = runner.root / "checkout"
        git("clone", "-q", str(self.world.remote), str(checkout), cwd=runner.root)
        workflow = load_workflow(checkout / ".gitea/workflows/promote.yml")
        steps = workflow["jobs"]["promote"]["steps"]
        # gitops-onboard is the one under test, already on PATH: no install from the template.
        steps[:] = [s for s in steps if s.get("name") != "Install gitops-onboard"]
        context = {
            "inputs.service": service,
            "inputs.from": source,
            "inputs.to": to,
            "github.ref_name": "main",
            "github.server_url": f"file://{self.world.server}",
            "github.repository": "team/infra",
            "github.token": "",
            "vars.GITOPS_ONBOARD_PIP": "",
        }
        (result,) = runner.run_job(workflow, "promote", checkout, context)
        return result


@pytest.fixture
def jobs(world: World, tmp_path: Path) -> Iterator[Jobs]:
    world.reset()
    private, _ = keypair(tmp_path, "deploy")
    _, host = keypair(tmp_path, "host")
    secrets = {
        "secrets.REGISTRY_CREDS": "cd-bot:token",
        "secrets.INFRA_DEPLOY_KEY": private,
        "secrets.INFRA_KNOWN_HOSTS": "gitea.example.com " + " ".join(host.split()[:2]),
    }
    yield Jobs(world, tmp_path, secrets)


def _landed(results: list[StepResult]) -> None:
    assert [r.returncode for r in results] == [0, 0], "\n".join(
        f"{r.name}: {r.returncode}\n{r.stdout}\n{r.stderr}" for r in results
    )


def _tags(world: World) -> dict[str, str | None]:
    return {c: image_tag(world.show(_overlay(c)), IMAGE) for c in CLUSTERS}


def test_cd_deploys_to_the_first_cluster_then_promote_moves_the_tag_to_the_others(
    jobs: Jobs, world: World
) -> None:
    sha = git("rev-parse", "HEAD", cwd=world.apps[""]).strip()
    before = {c: world.show(_overlay(c)) for c in CLUSTERS}

    _landed(jobs.deploy())

    assert world.subjects()[0] == f"chore(deploy): web → {sha}"
    assert world.changed() == [_overlay("koala")]
    assert _tags(world) == {"koala": sha, "iguana": "latest", "gecko": "latest"}
    koala = world.show(_overlay("koala"))
    digest = koala.split('digest: "')[1].split('"')[0]

    result = jobs.promote("web", "koala", "all")

    assert result.returncode == 0, result.stdout + result.stderr
    message = f"chore(promote): web {sha} from koala to iguana, gecko"
    assert world.subjects()[:2] == [message, f"chore(deploy): web → {sha}"]
    assert sorted(world.changed()) == sorted([_overlay("iguana"), _overlay("gecko")])
    pinned = f'    newTag: "{sha}"\n    digest: "{digest}"\n'
    for cluster in ("iguana", "gecko"):
        after = world.show(_overlay(cluster))
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


def test_the_deploy_cluster_answer_picks_the_overlay(jobs: Jobs, world: World) -> None:
    sha = git("rev-parse", "HEAD", cwd=world.apps["iguana"]).strip()
    _landed(jobs.deploy("iguana"))
    assert world.changed() == [_overlay("iguana")]
    assert _tags(world) == {"koala": "latest", "iguana": sha, "gecko": "latest"}


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
        path = work / _overlay("iguana")
        path.write_text("".join(x for x in path.read_text().splitlines(True) if "newTag" not in x))
        commit_all(work, "drop iguana's tag")
        git("push", "-q", "origin", "HEAD:main", cwd=work)
    head = git("rev-parse", "refs/heads/main", cwd=world.remote)
    result = jobs.promote(service, source, to)
    assert result.returncode in (1, 2)
    assert says in result.stderr
    assert git("rev-parse", "refs/heads/main", cwd=world.remote) == head


def test_a_rejected_push_is_promoted_again_on_the_new_head(jobs: Jobs, world: World) -> None:
    _landed(jobs.deploy())
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
    assert len(set(_tags(world).values())) == 1


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
            _landed(deployed.result())
            result = promoted.result()
            assert result.returncode == 0, result.stdout + result.stderr
        assert _tags(world)["koala"] == sha
    final = jobs.promote("web", "koala", "all")
    assert final.returncode == 0, final.stdout + final.stderr
    assert _tags(world) == dict.fromkeys(CLUSTERS, shas[-1])

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
        source = image_tag(world.show(_overlay("koala"), f"{commit}~1"), IMAGE)
        assert subject.startswith(f"chore(promote): web {source} from koala to ")
        for cluster in subject.split(" to ", 1)[1].split(", "):
            assert image_tag(world.show(_overlay(cluster), commit), IMAGE) == source
