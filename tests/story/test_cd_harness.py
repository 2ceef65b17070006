"""The generated deploy job, executed for real: bash, git, awk, ssh and a bare infra remote.

Only `buildctl` and `skopeo` are stand-ins (see tests/workflow_harness.py). The workflows
are rendered with `infra_repo: file://<remote>`, the local-testing form of the answer.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.kustomization import image_tag
from tests.app_world import APPS, AppWorld
from tests.helpers import build_and_validate, find, git
from tests.ssh_server import GitSshServer, reserved_port
from tests.workflow_harness import Runner, StepResult, load_workflow

CREDS = "cd-bot:registry-token-0f9e"


@dataclass
class Deploy:
    """One app's deploy job wired to a fresh copy of the infra remote."""

    name: str
    app: Path
    remote: Path
    runner: Runner
    context: dict[str, str]
    deploy_public_key: str = ""

    @property
    def image(self) -> str:
        answers = APPS[self.name]
        return f"{answers['registry']}/{answers['owner']}/{answers['service']}"

    @property
    def kustomization(self) -> str:
        return f"apps/{self.name}/kustomization.yaml"

    def run(self, sha: str | None = None) -> list[StepResult]:
        context = dict(self.context)
        if sha is not None:
            context["github.sha"] = sha
        workflow = load_workflow(self.app / ".gitea/workflows/cd.yml")
        return self.runner.run_job(workflow, "deploy", self.app, context)

    def head(self) -> str:
        return git("rev-parse", "refs/heads/main", cwd=self.remote).strip()

    def log(self) -> list[str]:
        return git("log", "--format=%s", "refs/heads/main", cwd=self.remote).splitlines()

    def refs(self) -> str:
        return git("for-each-ref", cwd=self.remote)

    def show(self, path: str, rev: str = "refs/heads/main") -> str:
        return git("show", f"{rev}:{path}", cwd=self.remote)


def _keypair(directory: Path, name: str) -> tuple[str, str]:
    key = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    private, public = key.read_text(), key.with_suffix(".pub").read_text()
    key.unlink()
    key.with_suffix(".pub").unlink()
    return private, public


@pytest.fixture
def deploy_for(app_world: AppWorld, tmp_path: Path) -> Iterator[object]:
    keys = tmp_path / "keys"
    keys.mkdir()
    private, public = _keypair(keys, "deploy")
    _, host_public = _keypair(keys, "host")
    host_line = "[127.0.0.1]:30022 " + " ".join(host_public.split()[:2]) + "\n"

    def make(name: str) -> Deploy:
        remote = app_world.reset_remote()
        app = app_world.local_apps[name]
        sha = git("rev-parse", "HEAD", cwd=app).strip()
        context = {
            "github.sha": sha,
            "secrets.REGISTRY_CREDS": CREDS,
            "secrets.INFRA_DEPLOY_KEY": private,
            "secrets.INFRA_KNOWN_HOSTS": host_line,
        }
        runner = Runner(tmp_path / f"runner-{name}", overrides={"PUSH_RETRY_BASE_SECONDS": "0"})
        return Deploy(name, app, remote, runner, context, public)

    yield make


def _ok(results: list[StepResult]) -> None:
    assert [r.returncode for r in results] == [0, 0], "\n".join(
        f"{r.name}: {r.returncode}\n{r.stdout}\n{r.stderr}" for r in results
    )


@pytest.mark.parametrize("name", sorted(APPS))
def test_first_run_pushes_one_commit_that_pins_only_the_tag_and_digest(
    deploy_for, name: str
) -> None:
    deploy: Deploy = deploy_for(name)
    before_head = deploy.head()
    before = deploy.show(deploy.kustomization)
    sha = deploy.context["github.sha"]

    results = deploy.run()

    _ok(results)
    assert deploy.runner.leftovers() == []
    # (a) exactly one new commit, on top of the old head, touching one line of one file
    assert git("rev-list", "--count", f"{before_head}..refs/heads/main", cwd=deploy.remote) == "1\n"
    assert git("rev-parse", "refs/heads/main~1", cwd=deploy.remote).strip() == before_head
    files = git("diff", "--name-only", before_head, "refs/heads/main", cwd=deploy.remote)
    assert files.splitlines() == [deploy.kustomization]
    after = deploy.show(deploy.kustomization)
    (push,) = deploy.runner.calls("skopeo")
    pinned = f'    newTag: "{sha}"\n    digest: "{push["digest"]}"\n'
    assert after == before.replace('    newTag: "latest"\n', pinned)
    assert push["digest"].startswith("sha256:") and push["digest"] in results[0].stdout
    assert image_tag(after, deploy.image) == sha
    assert deploy.log()[0] == f"chore(deploy): {name} → {sha}"
    author = git("log", "-1", "--format=%an <%ae>", "refs/heads/main", cwd=deploy.remote)
    assert author.startswith("CD Bot <cd-bot@")
    # the image was built to an OCI archive and pushed from it with an auth file
    (build,) = deploy.runner.calls("buildctl")
    assert f"build-arg:VERSION={sha}" in build and "--frontend" in build
    assert any(arg.startswith("type=oci,dest=") for arg in build)
    assert push["argv"][0] == "copy" and push["source_exists"]
    assert push["argv"][-1] == f"docker://{deploy.image}:{sha}"
    assert push["authfile_mode"] == "0o600"
    registry = APPS[name]["registry"]
    assert push["auths"] == {registry: hashlib.sha256(CREDS.encode()).hexdigest()}
    every_argv = [*build, *push["argv"]]
    assert not any(CREDS in arg or "token" in arg for arg in every_argv)
    # (e) the pushed tree still builds, with the new tag and the pushed digest on the image
    checkout = deploy.runner.root / "verify"
    git("clone", "-q", str(deploy.remote), str(checkout), cwd=deploy.runner.root)
    deployment = find(build_and_validate(checkout / "clusters/koala"), "Deployment", name)
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"{deploy.image}:{sha}@{push['digest']}"
    )


@pytest.mark.parametrize("name", sorted(APPS))
def test_second_run_with_the_same_sha_succeeds_without_a_commit(deploy_for, name: str) -> None:
    deploy: Deploy = deploy_for(name)
    _ok(deploy.run())
    refs = deploy.refs()

    results = deploy.run()

    _ok(results)
    assert deploy.refs() == refs
    assert "nothing to commit" in results[1].stdout
    assert deploy.runner.leftovers() == []


def _install_pre_push_hook(deploy: Deploy, times: int) -> Path:
    """A hook that pushes a competing commit to the remote just before each of the bump's
    first `times` pushes, so that push is rejected."""
    hooks = deploy.runner.root / "hooks"
    hooks.mkdir()
    counter = deploy.runner.root / "competing-pushes"
    other = deploy.runner.root / "other-clone"
    hook = hooks / "pre-push"
    hook.write_text(
        f"""#!/usr/bin/env bash
set -euo pipefail
n=$(cat '{counter}' 2>/dev/null || echo 0)
if (( n >= {times} )); then exit 0; fi
echo $(( n + 1 )) > '{counter}'
rm -rf '{other}'
git clone -q '{deploy.remote}' '{other}'
cd '{other}'
printf '# edited by someone else (%s)\\n' "$n" >> '{deploy.kustomization}'
echo "competing $n" > NOTES.md
git add -A
git -c user.name=Someone -c user.email=someone@example.com commit -q -m "someone else $n"
git -c core.hooksPath=/dev/null push -q origin HEAD:main
"""
    )
    hook.chmod(0o755)
    deploy.runner.gitconfig.write_text(
        f"[init]\n\tdefaultBranch = main\n[core]\n\thooksPath = {hooks}\n"
    )
    return counter


def test_competing_commit_is_kept_and_the_bump_lands_on_top(deploy_for) -> None:
    deploy: Deploy = deploy_for("supervisor")
    counter = _install_pre_push_hook(deploy, times=1)
    sha = deploy.context["github.sha"]

    results = deploy.run()

    _ok(results)
    assert counter.read_text().strip() == "1"
    assert "Push rejected" in results[1].stdout
    # (c) history: the competing commit, then the bump on top of it
    assert deploy.log()[:2] == [f"chore(deploy): supervisor → {sha}", "someone else 0"]
    kustomization = deploy.show(deploy.kustomization)
    assert "# edited by someone else (0)" in kustomization
    assert image_tag(kustomization, deploy.image) == sha
    assert deploy.show("NOTES.md") == "competing 0\n"
    bump = git("diff", "--name-only", "refs/heads/main~1", "refs/heads/main", cwd=deploy.remote)
    assert bump.splitlines() == [deploy.kustomization]
    assert deploy.runner.leftovers() == []


def test_push_retries_are_bounded_and_then_fail_loudly(deploy_for) -> None:
    deploy: Deploy = deploy_for("portal")
    _install_pre_push_hook(deploy, times=100)

    attempts = int(
        load_workflow(deploy.app / ".gitea/workflows/cd.yml")["jobs"]["deploy"]["steps"][2]["env"][
            "PUSH_ATTEMPTS"
        ]
    )

    results = deploy.run()

    assert [r.returncode for r in results] == [0, 1]
    assert f"failed {attempts} times; giving up" in results[1].stderr
    log = deploy.log()
    assert log[:attempts] == [f"someone else {n}" for n in range(attempts - 1, -1, -1)]
    assert not any(subject.startswith("chore(deploy)") for subject in log)
    assert deploy.runner.leftovers() == []


def test_failing_build_leaves_the_infra_repo_untouched_and_no_key_behind(deploy_for) -> None:
    deploy: Deploy = deploy_for("supervisor")
    deploy.runner.extra_env["STANDIN_FAIL_BUILD"] = "1"
    refs = deploy.refs()

    results = deploy.run()

    # (d) the build step fails, the bump step never runs
    assert [(r.name, r.returncode) for r in results] == [("Build the image and push it", 1)]
    assert "failed to solve" in results[0].stderr
    assert deploy.runner.calls("skopeo") == []
    assert deploy.refs() == refs
    assert deploy.runner.leftovers() == []


def test_failure_inside_the_bump_still_removes_key_and_clone(deploy_for, app_world) -> None:
    deploy: Deploy = deploy_for("ledger")
    # The infra repo lost apps/ledger (someone offboarded it): the bump must stop.
    other = deploy.runner.root / "offboard"
    git("clone", "-q", str(deploy.remote), str(other), cwd=deploy.runner.root)
    git("rm", "-q", "-r", "apps/ledger", cwd=other)
    git("commit", "-q", "-m", "offboard ledger", cwd=other)
    git("push", "-q", "origin", "HEAD:main", cwd=other)
    refs = deploy.refs()

    results = deploy.run()

    assert [r.returncode for r in results] == [0, 1]
    assert (
        "apps/ledger/kustomization.yaml is not on main; onboard ledger first" in results[1].stderr
    )
    assert deploy.refs() == refs
    assert deploy.runner.leftovers() == []


def test_missing_known_hosts_secret_fails_before_anything(deploy_for) -> None:
    deploy: Deploy = deploy_for("supervisor")
    deploy.context["secrets.INFRA_KNOWN_HOSTS"] = ""
    refs = deploy.refs()

    results = deploy.run()

    assert [r.returncode for r in results] == [0, 1]
    assert "the INFRA_KNOWN_HOSTS secret is empty" in results[1].stderr
    assert deploy.refs() == refs
    assert deploy.runner.leftovers() == []


def _ssh_env(app: Path) -> tuple[str, str]:
    """INFRA_SSH_HOST and INFRA_SSH_PORT of the app's deploy job, as rendered."""
    steps = load_workflow(app / ".gitea/workflows/cd.yml")["jobs"]["deploy"]["steps"]
    env = {k: str(v) for step in steps for k, v in (step.get("env") or {}).items()}
    return env["INFRA_SSH_HOST"], env["INFRA_SSH_PORT"]


def _on_port(local: Deploy, app: Path, port: int, public_key: str = "") -> Deploy:
    """The reference's deploy job with the NodePort moved to `port`, a free one of this run:
    only the job's INFRA_SSH_PORT changes, and every known_hosts line the test gives names
    [127.0.0.1]:`port`."""
    runner = Runner(
        local.runner.root.with_name(f"{local.runner.root.name}-{port}"),
        overrides={**local.runner.overrides, "INFRA_SSH_PORT": str(port)},
    )
    context = dict(local.context)
    context["secrets.INFRA_KNOWN_HOSTS"] = context["secrets.INFRA_KNOWN_HOSTS"].replace(
        "[127.0.0.1]:30022", f"[127.0.0.1]:{port}"
    )
    return Deploy("supervisor", app, local.remote, runner, context, public_key)


def test_reference_workflow_reaches_ssh_on_127_0_0_1_30022_with_a_pinned_key(
    app_world: AppWorld, deploy_for
) -> None:
    """The reference's own workflow (git@gitea.d-ma.be:..., SSH via 127.0.0.1:30022) with
    the real git and ssh: the known_hosts check passes for [127.0.0.1]:<port>, and ssh goes
    there (nothing listens, so the connection is refused) instead of gitea.d-ma.be. The port
    is a free one of this run in place of 30022, so that no other test run is in the way."""
    app = app_world.ssh_apps["supervisor"]
    assert _ssh_env(app) == ("127.0.0.1", "30022")
    local: Deploy = deploy_for("supervisor")
    refs = local.refs()

    with reserved_port() as port:  # bound, never listening: connections are refused
        deploy = _on_port(local, app, port)
        results = deploy.run()

    assert [r.returncode for r in results] == [0, 128]
    assert f"connect to host 127.0.0.1 port {port}" in results[1].stderr
    assert deploy.refs() == refs
    assert deploy.runner.leftovers() == []

    # A known_hosts secret for another host is refused before ssh runs.
    deploy.context["secrets.INFRA_KNOWN_HOSTS"] = deploy.context[
        "secrets.INFRA_KNOWN_HOSTS"
    ].replace(f"[127.0.0.1]:{port}", "gitea.d-ma.be")
    results = deploy.run()
    assert [r.returncode for r in results] == [0, 1]
    assert f"INFRA_KNOWN_HOSTS holds no host key for [127.0.0.1]:{port}" in results[1].stderr
    assert deploy.runner.leftovers() == []


@pytest.fixture
def nodeport(deploy_for) -> Iterator[tuple[Deploy, GitSshServer]]:
    """The reference's own workflow and an SSH server where it expects Gitea: 127.0.0.1 on
    the NodePort (a free port of this run in place of 30022)."""
    local: Deploy = deploy_for("supervisor")
    world_app = local.app.parent.parent / "ssh" / "supervisor"
    assert _ssh_env(world_app) == ("127.0.0.1", "30022")
    with reserved_port() as port:
        deploy = _on_port(local, world_app, port, local.deploy_public_key)
        server = GitSshServer(port, {"mathias/infra.git": local.remote}, local.deploy_public_key)
        server.start()
        deploy.context["secrets.INFRA_KNOWN_HOSTS"] = server.known_hosts_line()
        yield deploy, server
        server.stop()


def test_reference_deploys_over_ssh_on_the_nodeport_with_the_pinned_host_key(nodeport) -> None:
    deploy, server = nodeport
    sha = deploy.context["github.sha"]
    before = deploy.head()

    _ok(deploy.run())

    assert deploy.log()[0] == f"chore(deploy): supervisor → {sha}"
    assert git("rev-parse", "refs/heads/main~1", cwd=deploy.remote).strip() == before
    assert image_tag(deploy.show(deploy.kustomization), deploy.image) == sha
    assert server.commands == [
        "git-upload-pack 'mathias/infra.git'",
        "git-receive-pack 'mathias/infra.git'",
    ]
    assert deploy.runner.leftovers() == []
    # (b) over SSH too: the same sha again is a successful no-op
    refs = deploy.refs()
    results = deploy.run()
    _ok(results)
    assert deploy.refs() == refs and "nothing to commit" in results[1].stdout


def test_a_server_with_another_host_key_is_refused(nodeport, tmp_path: Path) -> None:
    deploy, server = nodeport
    _, impostor = _keypair(tmp_path, "impostor")
    deploy.context["secrets.INFRA_KNOWN_HOSTS"] = (
        f"[127.0.0.1]:{server.port} " + " ".join(impostor.split()[:2]) + "\n"
    )
    refs = deploy.refs()

    results = deploy.run()

    assert [r.returncode for r in results] == [0, 128]
    assert "Host key verification failed" in results[1].stderr
    assert server.commands == []
    assert deploy.refs() == refs
    assert deploy.runner.leftovers() == []
