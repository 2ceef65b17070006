"""The deploy job of a stamped app and the promote workflow of the infra repo, side by side.

`web` runs on koala, iguana and gecko, each with its own overlay, in a bare infra repo on disk
(reset per test). Three app repos deploy it, with `deploy_cluster` empty (the first cluster),
`iguana`, and `emu` (a cluster it is not on). Both workflows run through the workflow harness
(real bash, git and awk; `buildctl` and `skopeo` stood in); the promote workflow runs the
gitops-onboard under test instead of installing one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.copier_run import copying as copier_api
from generator.kustomization import image_tag
from tests.cd_burst import keypair
from tests.helpers import commit_all, git
from tests.promote_world import image_of, onboard_on_clusters
from tests.workflow_harness import Runner, StepResult, load_workflow

BIN = Path(sys.executable).parent
CLUSTERS = ("koala", "iguana", "gecko")
IMAGE = image_of("web")


def overlay_file(cluster: str) -> str:
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


def build_world(root: Path, template: Path, pristine_infra: Path) -> World:
    """`web` onboarded on three clusters in a bare repo; apps for deploy_cluster "", iguana, emu."""
    infra = root / "infra"
    shutil.copytree(pristine_infra, infra, symlinks=True)
    onboard_on_clusters(infra, template, "web", list(CLUSTERS), image_pull_secret="")
    commit_all(infra, "onboard web on three clusters")
    pristine = root / "pristine.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(infra), str(pristine)], check=True)
    remote = root / "server" / "team" / "infra.git"
    apps = {
        answer: _render_app(template, root / f"app-{answer or 'default'}", remote, answer)
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


def make_jobs(world: World, tmp_path: Path) -> Jobs:
    """A fresh infra remote and the deploy job's secrets (a file:// remote needs no SSH)."""
    world.reset()
    private, _ = keypair(tmp_path, "deploy")
    _, host = keypair(tmp_path, "host")
    secrets = {
        "secrets.REGISTRY_CREDS": "cd-bot:token",
        "secrets.INFRA_DEPLOY_KEY": private,
        "secrets.INFRA_KNOWN_HOSTS": "gitea.example.com " + " ".join(host.split()[:2]),
    }
    return Jobs(world, tmp_path, secrets)


def landed(results: list[StepResult]) -> None:
    """Both steps of the deploy job passed."""
    assert [r.returncode for r in results] == [0, 0], "\n".join(
        f"{r.name}: {r.returncode}\n{r.stdout}\n{r.stderr}" for r in results
    )


def tags(world: World) -> dict[str, str | None]:
    """The tag of each cluster's overlay on the remote's main."""
    return {c: image_tag(world.show(overlay_file(c)), IMAGE) for c in CLUSTERS}
