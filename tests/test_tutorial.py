"""docs/tutorial.md, run: every `sh` block in order, in one bash session, end to end.

The world the reader works in, on disk:

- `$TEMPLATE` is this template as it sits on disk, committed and tagged v1.0.0; the v2.0.0
  fix (the Deployment keeps five old ReplicaSets) is committed on top and tagged when the
  tutorial says the platform team releases it.
- Gitea's repositories are bare repositories; the reader's git config maps
  `git@gitea.d-ma.be:mathias/` onto them (`url.<base>.insteadOf`). `mathias/supervisor`
  starts with a little Go code, `mathias/infra` empty.
- Gitea's SSH NodePort is a real SSH server on 127.0.0.1:30022 (tests/ssh_server.py) that
  serves the infra repo to the one deploy key the tutorial makes and registers.
- The CD runner is tests/workflow_harness.py: it runs the deploy job of the pushed
  `cd.yml` with bash, git, ssh and awk; `buildctl` and `skopeo` are its only stand-ins.
- `pass` is a stand-in that prints entries of a store the test fills with canary values.
- PATH starts with this virtualenv's bin; HOME and XDG folders are temporary.

What Flux would do is checked at the end: build `clusters/koala` of the pushed infra repo
with kustomize and decrypt every Secret with the key of the `sops-age` Secret the tutorial
applied, with the sops binary (stricter than Flux: it verifies the MAC).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from ruamel.yaml import YAML

from generator import sops
from generator.kubectl import kustomize_build
from generator.kustomization import image_tag
from tests.doc_runner import Fence, Page, Shell, parse
from tests.helpers import K8S_VERSION, PROJECT, commit_all, git, load_yaml, snapshot_template
from tests.ssh_server import GitSshServer
from tests.workflow_harness import Runner, load_workflow

TUTORIAL = PROJECT / "docs/tutorial.md"
IMAGE = "gitea.d-ma.be/mathias/supervisor"
NODEPORT = 30022

# The password store: entry -> value. Values carry `$` and quotes, which no shell may expand.
STORE = {
    "gitea.d-ma.be/registry-pull-token": f"pull-{uuid.uuid4().hex}-$PULL'\"",
    "gitea.d-ma.be/registry-push-token": f"push-{uuid.uuid4().hex}",
    "supervisor/anthropic-api-key": f"sk-ant-api03-{uuid.uuid4().hex}-${{NOT_A_VAR}}",
    "supervisor/litellm-api-key": f"sk-litellm-{uuid.uuid4().hex}",
}

PASS = """#!/usr/bin/env bash
# Stand-in for pass: `pass show NAME` prints the entry and a newline, as pass does.
set -euo pipefail
if [[ $# -ne 2 || "$1" != show ]]; then
  echo "pass stand-in: only 'pass show NAME'" >&2
  exit 1
fi
if [[ ! -f "$PASSWORD_STORE_DIR/$2" ]]; then
  echo "Error: $2 is not in the password store." >&2
  exit 1
fi
cat "$PASSWORD_STORE_DIR/$2"
echo
"""

APP_FILES = {
    "go.mod": "module gitea.d-ma.be/mathias/supervisor\n\ngo 1.26\n",
    "cmd/supervisor/main.go": (
        'package main\n\nimport "fmt"\n\nvar version = "dev"\n\n'
        'func main() { fmt.Println("supervisor", version) }\n'
    ),
    "config/supervisor.yaml": "brain: /app/brain\n",
    ".gitignore": "bin/\nbrain/\n",
}


@dataclass
class World:
    root: Path
    template: Path
    gitea: Path
    work: Path
    runner: Runner
    secrets: dict[str, str] = field(default_factory=dict)  # the app repo's Actions secrets
    cluster: dict[str, Any] = field(default_factory=dict)  # what was kubectl-applied
    deploys: list[tuple[str, list[Any]]] = field(default_factory=list)  # (sha, step results)
    server: GitSshServer | None = None

    @property
    def infra_remote(self) -> Path:
        return self.gitea / "mathias/infra.git"

    @property
    def app_remote(self) -> Path:
        return self.gitea / "mathias/supervisor.git"


def _seed_app_repo(world: World) -> None:
    seed = world.root / "app-seed"
    seed.mkdir()
    git("init", "-q", "-b", "main", cwd=seed)
    for name, text in APP_FILES.items():
        (seed / name).parent.mkdir(parents=True, exist_ok=True)
        (seed / name).write_text(text)
    commit_all(seed, "supervisor: a Go service")
    git("push", "-q", str(world.app_remote), "HEAD:main", cwd=seed)


def _template_with_a_fix_to_release(root: Path) -> Path:
    """v1.0.0 as on disk; the v2.0.0 fix committed on top, tagged later."""
    repo = snapshot_template(root, "v1.0.0")
    deployment = repo / "template/service/deployment.yaml.jinja"
    text = deployment.read_text()
    assert "revisionHistoryLimit: 3" in text
    deployment.write_text(text.replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 5"))
    commit_all(repo, "Keep five old ReplicaSets")
    return repo


@pytest.fixture
def world(tmp_path: Path, hermetic: Path) -> Iterator[World]:
    for tool in ("bash", "git", "ssh", "ssh-keygen", "ssh-keyscan", "kubectl"):
        assert shutil.which(tool), f"the tutorial test needs {tool} on PATH"
    gitea = tmp_path / "gitea"
    for repo in ("infra", "supervisor"):
        git("init", "-q", "--bare", "-b", "main", str(gitea / f"mathias/{repo}.git"), cwd=tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    w = World(
        root=tmp_path,
        template=_template_with_a_fix_to_release(tmp_path / "template"),
        gitea=gitea,
        work=work,
        runner=Runner(tmp_path / "runner", overrides={"PUSH_RETRY_SECONDS": "0"}),
    )
    _seed_app_repo(w)
    # The reader's git reaches Gitea's repositories on disk.
    git(
        "config",
        "--global",
        f"url.file://{gitea}/mathias/.insteadOf",
        "git@gitea.d-ma.be:mathias/",
        cwd=tmp_path,
    )
    store = tmp_path / "password-store"
    for name, value in STORE.items():
        (store / name).parent.mkdir(parents=True, exist_ok=True)
        (store / name).write_text(value)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/pass").write_text(PASS)
    (tmp_path / "bin/pass").chmod(0o755)
    yield w
    if w.server is not None:
        w.server.stop()


def _shell(world: World) -> Shell:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), str(world.root / "bin"), env["PATH"]]
    )
    env["TEMPLATE"] = str(world.template)
    env["PASSWORD_STORE_DIR"] = str(world.root / "password-store")
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LANG"] = "C.UTF-8"
    return Shell(world.work, env, world.root / "blocks")


# ── what happens outside the reader's machine ──────────────────────────────────────────


def flux_bootstrap(world: World, page: Page, index: int) -> None:
    """`flux bootstrap gitea --path=clusters/koala` commits flux-system/ to the infra repo.

    gotk-sync.yaml is the one the tutorial shows; gotk-components.yaml (thousands of lines
    of controllers and CRDs in reality) is reduced to its namespace here.
    """
    command = page.next_fence(index, "console").text
    assert "--path=clusters/koala" in command and "--branch=main" in command
    sync = page.next_fence(index, "yaml")
    assert sync.title == "clusters/koala/flux-system/gotk-sync.yaml"
    clone = world.root / "flux-bootstrap"
    git("clone", "-q", str(world.infra_remote), str(clone), cwd=world.root)
    folder = clone / "clusters/koala/flux-system"
    folder.mkdir(parents=True)
    (folder / "gotk-sync.yaml").write_text(sync.text)
    (folder / "gotk-components.yaml").write_text(
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n"
    )
    (folder / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n- gotk-components.yaml\n- gotk-sync.yaml\n"
    )
    git("add", "-A", cwd=clone)
    flux = ("-c", "user.name=Flux", "-c", "user.email=flux@example.com")
    git(*flux, "commit", "-q", "-m", "Add Flux sync manifests", cwd=clone)
    git("push", "-q", "origin", "HEAD:main", cwd=clone)


def apply_sops_age(world: World, page: Page, index: int) -> None:
    """`kubectl apply -f FILE`: the Secret must be one the cluster accepts."""
    command = page.next_fence(index, "console").text
    match = re.search(r"kubectl apply -f (\S+)", command)
    assert match, command
    manifest = YAML(typ="safe", pure=True).load(
        (page.shell.pwd() / match.group(1)).read_text(encoding="utf-8")
    )
    kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    assert (manifest["kind"], manifest["metadata"]) == (
        "Secret",
        {"name": "sops-age", "namespace": "flux-system"},
    )
    world.cluster["flux-system/sops-age"] = manifest


def save(world: World, page: Page, index: int) -> None:
    """The reader saves the next fence as the file its title names."""
    fence = page.next_fence(index)
    assert fence.title, "a saved fence needs a title"
    (page.shell.pwd() / fence.title).write_text(fence.text)


def _start_nodeport(world: World, authorized_key: str) -> GitSshServer:
    """Gitea's SSH on 127.0.0.1:30022. Other tests use the port too: wait for it."""
    deadline = time.monotonic() + 60
    while True:
        server = GitSshServer(NODEPORT, {"mathias/infra.git": world.infra_remote}, authorized_key)
        try:
            return server.start()
        except RuntimeError as error:
            if "in use" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def gitea_deploy_key(world: World, page: Page, index: int) -> None:
    """Gitea accepts the deploy key (write access) for mathias/infra."""
    form = page.next_fence(index, "text").text
    assert "supervisor-deploy-key.pub" in form and "Enable write access" in form
    public = (page.shell.pwd() / "supervisor-deploy-key.pub").read_text()
    world.server = _start_nodeport(world, public)


def gitea_secrets(world: World, page: Page, index: int) -> None:
    """The app repo's Actions secrets, as the tutorial says to fill them."""
    form = page.next_fence(index, "text").text
    here = page.shell.pwd()
    push_token = re.search(r"REGISTRY_CREDS\s+mathias:.*\(pass show (\S+)\)", form)
    assert push_token, form
    assert "supervisor-deploy-key" in form and "infra-known-hosts" in form
    world.secrets = {
        "secrets.REGISTRY_CREDS": f"mathias:{STORE[push_token.group(1)]}",
        "secrets.INFRA_DEPLOY_KEY": (here / "supervisor-deploy-key").read_text(),
        "secrets.INFRA_KNOWN_HOSTS": (here / "infra-known-hosts").read_text(),
    }


def gitea_runs_cd(world: World, page: Page, index: int) -> None:
    """A push to main: the runner checks out the pushed commit and runs the deploy job."""
    sha = git("rev-parse", "refs/heads/main", cwd=world.app_remote).strip()
    checkout = world.root / f"checkout-{len(world.deploys) + 1}"
    git("clone", "-q", str(world.app_remote), str(checkout), cwd=world.root)
    git("checkout", "-q", sha, cwd=checkout)
    workflow = load_workflow(checkout / ".gitea/workflows/cd.yml")
    results = world.runner.run_job(
        workflow, "deploy", checkout, {"github.sha": sha, **world.secrets}
    )
    assert [r.returncode for r in results] == [0, 0], "\n".join(
        f"{r.name}: {r.returncode}\n{r.stdout}\n{r.stderr}" for r in results
    )
    assert f"Set {IMAGE} to {sha} on main" in results[1].stdout
    assert world.runner.leftovers() == []
    world.deploys.append((sha, results))


def template_release(world: World, page: Page, index: int) -> None:
    """The platform team tags the fix as v2.0.0."""
    git("tag", "v2.0.0", cwd=world.template)


def _decrypt_like_flux(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Build clusters/koala of the pushed infra repo; decrypt its Secrets with the key Flux has."""
    view = world.root / "flux-view"
    git("clone", "-q", str(world.infra_remote), str(view), cwd=world.root)
    key = world.cluster["flux-system/sops-age"]["stringData"]["age.agekey"]
    monkeypatch.setenv("SOPS_AGE_KEY", key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(world.root / "no-key-here"))
    objects: dict[str, Any] = {}
    for obj in kustomize_build(view / "clusters/koala"):
        if obj["kind"] == "Secret":
            assert "sops" in obj, obj["metadata"]
            obj = YAML(typ="safe", pure=True).load(sops.decrypt_text(_dump(obj)))
        if "toolkit.fluxcd.io" not in obj["apiVersion"]:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        namespace = obj["metadata"].get("namespace", "")
        objects[f"{obj['kind']}/{namespace}/{obj['metadata']['name']}"] = obj
    return objects


def _dump(obj: Any) -> str:
    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(obj, buffer)
    return buffer.getvalue()


def _every_byte(*repos: Path) -> str:
    """Every version of every file of the repos' histories, and their working trees."""
    texts = []
    for repo in repos:
        texts.append(git("log", "--all", "-p", "--format=%H %s", cwd=repo))
        for path in repo.rglob("*"):
            if path.is_file() and ".git" not in path.parts:
                texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def test_the_tutorial_runs_end_to_end(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = parse(TUTORIAL.read_text(encoding="utf-8"))
    shell = _shell(world)
    handlers = {
        "flux-bootstrap": flux_bootstrap,
        "apply-sops-age": apply_sops_age,
        "save": save,
        "gitea-deploy-key": gitea_deploy_key,
        "gitea-secrets": gitea_secrets,
        "gitea-runs-cd": gitea_runs_cd,
        "template-release": template_release,
    }
    page = Page(
        tokens,
        shell,
        {name: partial(handler, world) for name, handler in handlers.items()},
    )
    try:
        page.run()
    finally:
        shell.close()

    # Every fence is run (sh), happens elsewhere (console), or is shown (text, yaml).
    assert {t.lang for t in tokens if isinstance(t, Fence)} == {"sh", "console", "text", "yaml"}
    assert page.ran.count("sh") == len(page.fences("sh"))
    assert page.ran.count("<gitea-runs-cd>") == 2
    # The answers the reader saves are the reference service's, both sides.
    (answers,) = [f for f in page.fences("yaml") if f.title == "supervisor.yml"]
    assert YAML(typ="safe", pure=True).load(answers.text) == {
        **load_yaml(PROJECT / "examples/supervisor.yml"),
        **load_yaml(PROJECT / "examples/supervisor-app.yml"),
    }

    key_file = Path(os.environ["XDG_CONFIG_HOME"]) / "sops/age/keys.txt"
    assert key_file.stat().st_mode & 0o777 == 0o600
    public = re.search(r"# public key: (age1\w+)", key_file.read_text())
    assert public
    assert not (world.work / "sops-age.yaml").exists()
    assert not (world.work / "supervisor-deploy-key").exists()

    infra = world.work / "infra"
    app = world.work / "supervisor"
    assert git("status", "--porcelain", cwd=infra) == ""
    assert git("status", "--porcelain", cwd=app) == ""
    assert git("rev-parse", "HEAD", cwd=app) == git("rev-parse", "main", cwd=world.app_remote)

    # The infra repo as pushed: the recipient, the clusters list, Flux decryption.
    sops_yaml = load_yaml(infra / ".sops.yaml")
    assert sops_yaml["creation_rules"][0]["age"] == [public.group(1)]
    cluster = load_yaml(infra / "clusters/koala/kustomization.yaml")
    assert cluster["resources"] == ["flux-system", "../../apps/supervisor"]
    sync_text = (infra / "clusters/koala/flux-system/gotk-sync.yaml").read_text()
    sync = list(YAML(typ="safe", pure=True).load_all(sync_text))
    assert sync[1]["spec"]["decryption"] == {"provider": "sops", "secretRef": {"name": "sops-age"}}

    # Both sides were updated to v2.0.0; the fix is in, and CD's last tag survived.
    for answers in (infra / "apps/supervisor/.copier-answers.yml", app / ".copier-answers.yml"):
        assert load_yaml(answers)["_commit"] == "v2.0.0"
    (first_sha, _), (last_sha, _) = world.deploys
    assert first_sha != last_sha
    remote_kustomization = git(
        "show", "main:apps/supervisor/kustomization.yaml", cwd=world.infra_remote
    )
    assert image_tag(remote_kustomization, IMAGE) == last_sha
    subjects = git("log", "--format=%s", "main", cwd=world.infra_remote).splitlines()
    assert subjects[:4] == [
        f"chore(deploy): supervisor → {last_sha}",
        "Update supervisor to template v2.0.0",
        f"chore(deploy): supervisor → {first_sha}",
        "Onboard supervisor",
    ]
    # The update itself changed the template's line and nothing CD owns.
    update = git("show", "--format=", "main~1", cwd=world.infra_remote)
    assert "-  revisionHistoryLimit: 3\n+  revisionHistoryLimit: 5" in update
    assert "newTag" not in update

    # What Flux applies: every Secret decrypts with the cluster's key to the stored values.
    objects = _decrypt_like_flux(world, monkeypatch)
    deployment = objects["Deployment/supervisor/supervisor"]
    assert deployment["spec"]["revisionHistoryLimit"] == 5
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{IMAGE}:{last_sha}"
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {
        "kubernetes.io/hostname": "koala"
    }
    secrets = objects["Secret/supervisor/supervisor-secrets"]["stringData"]
    assert secrets == {
        "ANTHROPIC_API_KEY": STORE["supervisor/anthropic-api-key"],
        "LITELLM_API_KEY": STORE["supervisor/litellm-api-key"],
    }
    pull = objects["Secret/supervisor/gitea-registry"]
    config = json.loads(pull["stringData"][".dockerconfigjson"])
    token = STORE["gitea.d-ma.be/registry-pull-token"]
    assert (
        config["auths"]["gitea.d-ma.be"]["auth"]
        == base64.b64encode(f"mathias:{token}".encode()).decode()
    )

    # The image went to the registry under the commit's sha, credentials from an auth file.
    pushes = world.runner.calls("skopeo")
    assert [p["argv"][-1] for p in pushes] == [
        f"docker://{IMAGE}:{first_sha}",
        f"docker://{IMAGE}:{last_sha}",
    ]
    # No value from the password store in any file, any commit, or anything printed.
    seen = _every_byte(infra, app, world.infra_remote, world.app_remote) + "\n".join(
        shell.transcript
    )
    for value in STORE.values():
        assert value not in seen
