"""Ten services deploying at once into one infra repo over SSH, the way ten CD runs would.

Shared by tests/adversarial/test_cd_burst.py (a bounded burst in the suite) and
scripts/stress_deploy.py (the larger run). Each service has its own stamped app repo whose
rendered `cd.yml` deploy job runs through the workflow harness (real bash, git, awk, ssh;
`buildctl` and `skopeo` stood in) against one bare infra repo served by a real SSH server on
a free port of 127.0.0.1. The workflow's own retry settings are used, never overridden.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.copier_run import copying as copier_api
from generator.kubectl import kustomize_build
from generator.kustomization import image_tag
from generator.onboard import onboard_service
from tests.helpers import commit_all, git
from tests.ssh_server import GitSshServer
from tests.workflow_harness import Runner, StepResult, load_workflow

REGISTRY = "gitea.example.com"
OWNER = "burst"
REPO_PATH = "platform/infra.git"
LANGUAGES = ("go", "python", "node")
CLUSTER_SETS = (["koala"], ["iguana"], ["koala", "iguana"])
SERVICES = (
    "api",
    "billing",
    "catalog",
    "docs-site",
    "events",
    "feeds",
    "gateway",
    "health",
    "inbox",
    "jobs",
)
# A deploy job that outlives this has hung: the retry budget is far smaller.
STEP_TIMEOUT = 900


def service_answers(index: int, name: str, port: int) -> dict[str, Any]:
    """Answers for both sides of service `name`, whose CD reaches SSH on 127.0.0.1:`port`."""
    return {
        "service": name,
        "registry": REGISTRY,
        "owner": OWNER,
        "port": 8000 + index,
        "clusters": CLUSTER_SETS[index % len(CLUSTER_SETS)],
        "language": LANGUAGES[index % len(LANGUAGES)],
        "infra_repo": f"ssh://git@127.0.0.1:{port}/{REPO_PATH}",
    }


def keypair(directory: Path, name: str) -> tuple[str, str]:
    """A fresh ed25519 key pair as (private key text, public key line); no file kept."""
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    private, public = key.read_text(), key.with_suffix(".pub").read_text()
    key.unlink()
    key.with_suffix(".pub").unlink()
    return private, public


@dataclass
class Outcome:
    """One deploy of one commit of one service."""

    service: str
    sha: str
    results: list[StepResult]

    @property
    def landed(self) -> bool:
        return [r.returncode for r in self.results] == [0, 0]

    @property
    def bump(self) -> StepResult:
        return self.results[-1]

    def summary(self) -> str:
        """One line: the service, the commit, and the failing step's last error line."""
        failed = next((r for r in self.results if r.returncode != 0), None)
        if failed is None:
            return f"{self.service} {self.sha[:10]}: landed"
        lines = [line for line in failed.stderr.splitlines() if line.strip()] or ["(no output)"]
        return (
            f"{self.service} {self.sha[:10]}: {failed.name} exit {failed.returncode}: {lines[-1]}"
        )

    def describe(self) -> str:
        return f"{self.service} {self.sha[:10]}: " + " | ".join(
            f"{r.name} exit {r.returncode}: {r.stdout.strip()} {r.stderr.strip()}"
            for r in self.results
        )


@dataclass
class BurstWorld:
    """Ten app repos, the bare infra repo they deploy to and the SSH server in front of it."""

    root: Path
    pristine: Path  # the bare infra repo with every service onboarded
    remote: Path  # where deploys push; reset from `pristine` by `reset()`
    apps: dict[str, Path]
    server: GitSshServer
    context: dict[str, str]  # the `${{ }}` values every deploy job shares
    runs: int = field(default=0)
    clusters: dict[str, list[str]] = field(default_factory=dict)

    def reset(self) -> None:
        if self.remote.exists():
            shutil.rmtree(self.remote)
        shutil.copytree(self.pristine, self.remote, symlinks=True)

    def image(self, service: str) -> str:
        return f"{REGISTRY}/{OWNER}/{service}"

    def kustomization_path(self, service: str) -> str:
        """The file CD sets the tag in: the base, or the first cluster's overlay."""
        clusters = self.clusters.get(service, [])
        if len(clusters) >= 2:
            return f"apps/{service}/clusters/{clusters[0]}/kustomization.yaml"
        return f"apps/{service}/kustomization.yaml"

    def kustomization(self, service: str, rev: str = "refs/heads/main") -> str:
        return git("show", f"{rev}:{self.kustomization_path(service)}", cwd=self.remote)

    def deployed(self, service: str) -> str | None:
        return image_tag(self.kustomization(service), self.image(service))

    def new_commit(self, service: str, note: str, app: Path | None = None) -> str:
        """Commit a change to the app repo (or `app`, a clone of it); return its sha."""
        repo = app or self.apps[service]
        (repo / "CHANGES.md").write_text(f"{note}\n")
        commit_all(repo, note)
        return git("rev-parse", "HEAD", cwd=repo).strip()

    def runner(self, **overrides: str) -> Runner:
        self.runs += 1
        return Runner(
            self.root / "runners" / str(self.runs), overrides=dict(overrides), timeout=STEP_TIMEOUT
        )

    def deploy(
        self, service: str, sha: str, app: Path | None = None, runner: Runner | None = None
    ) -> Outcome:
        """Run the deploy job of `service`'s workflow for commit `sha`, in its app repo."""
        repo = app or self.apps[service]
        workflow = load_workflow(repo / ".gitea/workflows/cd.yml")
        context = {**self.context, "github.sha": sha}
        results = (runner or self.runner()).run_job(workflow, "deploy", repo, context)
        return Outcome(service, sha, results)

    def burst(self, round_name: str) -> list[Outcome]:
        """One new commit in every app repo, then every deploy job at once."""
        shas = {name: self.new_commit(name, f"{round_name}: {name}") for name in self.apps}
        with ThreadPoolExecutor(max_workers=len(shas)) as pool:
            futures = [pool.submit(self.deploy, name, sha) for name, sha in shas.items()]
            return [future.result() for future in futures]

    def deploy_subjects(self) -> list[str]:
        """The subjects of every deploy commit on main, newest first."""
        log = git("log", "--format=%s", "refs/heads/main", cwd=self.remote).splitlines()
        return [subject for subject in log if subject.startswith("chore(deploy): ")]

    def merge_commits(self) -> list[str]:
        return git("rev-list", "--min-parents=2", "refs/heads/main", cwd=self.remote).split()

    def unbuildable_clusters(self) -> list[str]:
        """Clusters of the pushed main whose `kubectl kustomize` fails or builds nothing."""
        checkout = Path(tempfile.mkdtemp(dir=self.root, prefix="verify-"))
        git("clone", "-q", str(self.remote), str(checkout), cwd=self.root)
        failed = []
        for cluster in sorted((checkout / "clusters").iterdir()):
            try:
                if not kustomize_build(cluster):
                    failed.append(f"{cluster.name}: built to nothing")
            except Exception as error:  # reported, not raised: the caller counts them
                failed.append(f"{cluster.name}: {error}")
        shutil.rmtree(checkout)
        return failed


@dataclass
class Tally:
    """What a series of bursts did: the figures the issue asks for."""

    total: int = 0
    landed: int = 0
    lost: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one line per failed deploy
    details: list[str] = field(default_factory=list)  # their whole output
    linear: bool = True
    unbuildable: list[str] = field(default_factory=list)
    seconds: float = 0.0
    most_attempts: int = 0

    def line(self) -> str:
        return (
            f"landed {self.landed}/{self.total}, lost {len(self.lost)}, "
            f"linear {'yes' if self.linear else 'no'}, "
            f"clusters that fail to build {len(self.unbuildable)}, "
            f"most push attempts {self.most_attempts}, wall time {self.seconds:.1f} s"
        )


def attempts(outcome: Outcome) -> int:
    """How many pushes the bump step made (1 + the rejected ones it retried)."""
    return 1 + outcome.bump.stdout.count("Push rejected")


def run_bursts(
    world: BurstWorld, rounds: int, report: Callable[[str], None] | None = None
) -> Tally:
    """`rounds` bursts of every service at once, then count landed, lost and history;
    `report` gets one line per round."""
    tally = Tally()
    started = time.monotonic()
    expected: dict[str, str] = {}
    for number in range(1, rounds + 1):
        outcomes = world.burst(f"round {number}")
        on_main = set(world.deploy_subjects())
        for outcome in outcomes:
            tally.total += 1
            tally.most_attempts = max(tally.most_attempts, attempts(outcome))
            if outcome.landed:
                tally.landed += 1
                expected[outcome.service] = outcome.sha
            else:
                tally.failures.append(outcome.summary())
                tally.details.append(outcome.describe())
            subject = f"chore(deploy): {outcome.service} → {outcome.sha}"
            if outcome.landed and subject not in on_main:
                tally.lost.append(f"{subject}: reported landed, not on main")
        if report is not None:
            landed = sum(outcome.landed for outcome in outcomes)
            most = max(attempts(outcome) for outcome in outcomes)
            report(
                f"round {number}: landed {landed}/{len(outcomes)}, most push attempts {most}, "
                f"{time.monotonic() - started:.1f} s so far"
            )
    tally.seconds = time.monotonic() - started
    for service, sha in expected.items():
        deployed = world.deployed(service)
        if deployed != sha:
            tally.lost.append(f"{service}: main deploys {deployed}, its last landed is {sha}")
    tally.linear = world.merge_commits() == []
    tally.unbuildable = world.unbuildable_clusters()
    return tally


def _render_app(template: Path, destination: Path, answers: dict[str, Any]) -> Path:
    destination.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=destination)
    copier_api.copy(str(template), destination, {**answers, "kind": "app"})
    commit_all(destination, "stamp the app's CD files")
    return destination


@contextmanager
def burst_world(
    root: Path, template: Path, stamped_infra: Path, services: tuple[str, ...] = SERVICES
) -> Iterator[BurstWorld]:
    """Onboard `services` into a copy of `stamped_infra`, stamp their app repos, and serve
    the infra repo over SSH on a free port until the block ends."""
    keys = root / "keys"
    keys.mkdir(parents=True)
    private, public = keypair(keys, "deploy")
    remote = root / "remote.git"
    server = GitSshServer(0, {REPO_PATH: remote}, public).start()
    try:
        infra = root / "infra"
        shutil.copytree(stamped_infra, infra, symlinks=True)
        answers = {
            name: service_answers(index, name, server.port) for index, name in enumerate(services)
        }
        for data in answers.values():
            onboard_service(infra, data, str(template))
        commit_all(infra, f"onboard {len(services)} services")
        pristine = root / "pristine.git"
        subprocess.run(["git", "clone", "-q", "--bare", str(infra), str(pristine)], check=True)
        apps = {
            name: _render_app(template, root / "apps" / name, answers[name]) for name in answers
        }
        context = {
            "secrets.REGISTRY_CREDS": "cd-bot:registry-token",
            "secrets.INFRA_DEPLOY_KEY": private,
            "secrets.INFRA_KNOWN_HOSTS": server.known_hosts_line(),
        }
        clusters = {name: list(data["clusters"]) for name, data in answers.items()}
        world = BurstWorld(root, pristine, remote, apps, server, context, clusters=clusters)
        world.reset()
        yield world
    finally:
        server.stop()
