"""The world the tutorial and the how-to guides run in, and what happens outside the shell.

On disk, for one reader:

- `$TEMPLATE` is this template as it sits on disk, committed and tagged v1.0.0. Later
  releases are committed and tagged when a page says the platform team releases them.
- Gitea's repositories are bare repositories; the reader's git config maps
  `git@gitea.d-ma.be:mathias/` onto them (`url.<base>.insteadOf`). `mathias/supervisor`
  starts with a little Go code, `mathias/infra` empty.
- Gitea's SSH NodePort is a real SSH server on 127.0.0.1 (tests/ssh_server.py) that serves
  the infra repo to the one deploy key the tutorial makes and registers, always with the same
  host key. The pages document the NodePort 30022; each world reserves a free port of its own
  instead and runs the pages with that port in place of 30022, so two test runs on one
  machine never collide. It listens only while a page or a deploy needs it.
- The CD runner is tests/workflow_harness.py: it runs the deploy job of the pushed `cd.yml`
  with bash, git, ssh and awk; `buildctl` and `skopeo` are its only stand-ins.
- `pass` is a stand-in that prints entries of a store filled with canary values.
- PATH starts with this virtualenv's bin; HOME and the XDG folders are temporary.

A page's `<!-- test: NAME -->` directives call the methods of `World` named after them
(`flux-bootstrap` -> `flux_bootstrap`): Flux bootstrap, `kubectl apply`, Gitea's settings,
the runner, the platform team's releases. Each checks the fences it stands for, so a page
that shows one thing and a test that does another cannot drift apart.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import kubernetes_validate
from ruamel.yaml import YAML

from generator import sops
from generator.kubectl import kustomize_build
from tests.doc_runner import Handler, Page, Shell, parse
from tests.helpers import K8S_VERSION, PROJECT, commit_all, git, snapshot_template
from tests.ssh_server import GitSshServer, reserved_port
from tests.workflow_harness import Runner, StepResult, load_workflow

IMAGE = "gitea.d-ma.be/mathias/supervisor"
# The NodePort the pages document; a world runs them with its own free port in its place.
DOCUMENTED_NODEPORT = 30022

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

# What `flux bootstrap` commits next to gotk-sync.yaml. gotk-components.yaml holds thousands
# of lines of controllers and CRDs in reality; its namespace stands for them here.
FLUX_KUSTOMIZATION = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    "resources:\n- gotk-components.yaml\n- gotk-sync.yaml\n"
)
FLUX_COMPONENTS = "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n"


def _secret_value(prefix: str) -> str:
    # `$`, quotes and braces, which no shell on the way may expand or mangle.
    return f"{prefix}-{uuid.uuid4().hex}-$NOT_A_VAR-${{NOR_THIS}}-'\""


def new_store() -> dict[str, str]:
    """The password store: entry -> value."""
    return {
        "gitea.d-ma.be/registry-pull-token": _secret_value("pull"),
        "gitea.d-ma.be/registry-push-token": f"push-{uuid.uuid4().hex}",
        "supervisor/anthropic-api-key": _secret_value("sk-ant-api03"),
        "supervisor/litellm-api-key": _secret_value("sk-litellm"),
    }


def dump_yaml(obj: Any) -> str:
    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(obj, buffer)
    return buffer.getvalue()


@dataclass
class World:
    root: Path
    template: Path
    env: dict[str, str]
    store: dict[str, str] = field(default_factory=new_store)
    runner: Runner = field(init=False)
    secrets: dict[str, str] = field(default_factory=dict)  # the app repo's Actions secrets
    cluster_keys: dict[str, str] = field(default_factory=dict)  # cluster -> its sops-age key
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)  # manifest per cluster
    deploys: list[tuple[str, list[StepResult]]] = field(default_factory=list)
    server: GitSshServer | None = None
    deploy_public_key: str | None = None  # registered in Gitea for the infra repo
    host_key: asyncssh.SSHKey = field(
        default_factory=lambda: asyncssh.generate_private_key("ssh-ed25519")
    )
    transcripts: list[str] = field(default_factory=list)
    every_value: list[str] = field(default_factory=list)  # every value the store ever held
    _port_hold: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    nodeport: int = field(init=False)  # where Gitea's SSH listens for this world

    def __post_init__(self) -> None:
        self.runner = Runner(self.root / "runner", overrides={"PUSH_RETRY_BASE_SECONDS": "0"})
        self.nodeport = self._port_hold.enter_context(reserved_port())

    # ── layout ────────────────────────────────────────────────────────────────────────

    @property
    def gitea(self) -> Path:
        return self.root / "gitea"

    @property
    def infra_remote(self) -> Path:
        return self.gitea / "mathias/infra.git"

    @property
    def app_remote(self) -> Path:
        return self.gitea / "mathias/supervisor.git"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def infra(self) -> Path:
        return self.work / "infra"

    @property
    def app(self) -> Path:
        return self.work / "supervisor"

    @property
    def key_file(self) -> Path:
        """The reader's age key file, where sops looks."""
        return Path(self.env["XDG_CONFIG_HOME"]) / "sops/age/keys.txt"

    # ── set-up ────────────────────────────────────────────────────────────────────────

    @classmethod
    def create(cls, root: Path) -> World:
        """Gitea's two repositories, the template, `pass`, and the reader's environment."""
        template = snapshot_template(root / "template", "v1.0.0")
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join(
            [str(Path(sys.executable).parent), str(root / "bin"), env["PATH"]]
        )
        env.update(
            TEMPLATE=str(template),
            PASSWORD_STORE_DIR=str(root / "password-store"),
            GIT_TERMINAL_PROMPT="0",
            LANG="C.UTF-8",
        )
        world = cls(root, template, env)
        for repo in ("infra", "supervisor"):
            git(
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                str(world.gitea / f"mathias/{repo}.git"),
                cwd=root,
            )
        seed = root / "app-seed"
        seed.mkdir()
        git("init", "-q", "-b", "main", cwd=seed)
        for name, text in APP_FILES.items():
            (seed / name).parent.mkdir(parents=True, exist_ok=True)
            (seed / name).write_text(text)
        commit_all(seed, "supervisor: a Go service")
        git("push", "-q", str(world.app_remote), "HEAD:main", cwd=seed)
        # The reader's git reaches Gitea's repositories on disk.
        config = Path(env["GIT_CONFIG_GLOBAL"])
        with config.open("a") as handle:
            handle.write(
                f'[url "file://{world.gitea}/mathias/"]\n\tinsteadOf = git@gitea.d-ma.be:mathias/\n'
            )
        world.write_store()
        (root / "bin").mkdir()
        (root / "bin/pass").write_text(PASS)
        (root / "bin/pass").chmod(0o755)
        world.work.mkdir()
        return world

    def write_store(self) -> None:
        for name, value in self.store.items():
            if value not in self.every_value:
                self.every_value.append(value)
            path = self.root / "password-store" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value)

    def stop_listening(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def close(self) -> None:
        """Stop Gitea's SSH and give the world's port back."""
        self.stop_listening()
        self._port_hold.close()

    def listen(self) -> GitSshServer:
        """Gitea's SSH NodePort on the world's port, up until `stop_listening()`."""
        assert self.deploy_public_key, "no deploy key registered yet"
        if self.server is None:
            self.server = GitSshServer(
                self.nodeport,
                {"mathias/infra.git": self.infra_remote},
                self.deploy_public_key,
                host_key=self.host_key,
            ).start()
        return self.server

    def page_text(self, page_path: Path) -> str:
        """The page as the reader runs it here: the world's port for the documented NodePort."""
        text = page_path.read_text(encoding="utf-8")
        return re.sub(rf"\b{DOCUMENTED_NODEPORT}\b", str(self.nodeport), text)

    # ── running pages ─────────────────────────────────────────────────────────────────

    def run_page(self, page_path: Path, cwd: Path, *, nodeport: bool = False) -> Page:
        """Run one documentation page in a fresh bash session started in `cwd`.

        With `nodeport`, Gitea's SSH listens while the page runs.
        """
        if nodeport and self.deploy_public_key:
            self.listen()
        tokens = parse(self.page_text(page_path))
        shell = Shell(cwd, self.env, self.root / "blocks" / page_path.stem)
        handlers: dict[str, Handler] = {}
        for token in tokens:
            if hasattr(token, "name"):
                method = getattr(self, token.name.replace("-", "_"), None)
                if method is not None:
                    handlers[token.name] = method
        page = Page(tokens, shell, handlers)
        try:
            page.run()
        finally:
            shell.close()
            self.transcripts.extend(shell.transcript)
            self.stop_listening()
        return page

    # ── what happens outside the reader's shell ───────────────────────────────────────

    def flux_bootstrap(self, page: Page, index: int) -> None:
        """`flux bootstrap gitea --path=clusters/<c>` commits flux-system/ to the infra repo.

        gotk-sync.yaml is the tutorial's, with the cluster's path; the tutorial shows it.
        """
        command = page.next_fence(index, "console").text
        found = re.search(r"--branch=main --path=clusters/([a-z0-9-]+) ", command)
        assert found, command
        cluster = found.group(1)
        sync = gotk_sync(cluster)
        shown = [f for f in page.fences("yaml") if f.title and f.title.endswith("gotk-sync.yaml")]
        for fence in shown:
            assert fence.title == f"clusters/{cluster}/flux-system/gotk-sync.yaml"
            assert fence.text == sync
        clone = self.root / f"flux-bootstrap-{cluster}"
        git("clone", "-q", str(self.infra_remote), str(clone), cwd=self.root)
        folder = clone / "clusters" / cluster / "flux-system"
        folder.mkdir(parents=True)
        (folder / "gotk-sync.yaml").write_text(sync)
        (folder / "gotk-components.yaml").write_text(FLUX_COMPONENTS)
        (folder / "kustomization.yaml").write_text(FLUX_KUSTOMIZATION)
        git("add", "-A", cwd=clone)
        flux = ("-c", "user.name=Flux", "-c", "user.email=flux@example.com")
        git(*flux, "commit", "-q", "-m", "Add Flux sync manifests", cwd=clone)
        git("push", "-q", "origin", "HEAD:main", cwd=clone)

    def apply_sops_age(self, page: Page, index: int) -> None:
        """`kubectl [--context C] apply -f FILE`: a Secret the cluster accepts, per cluster."""
        command = page.next_fence(index, "console").text
        applies = re.findall(r"kubectl (?:--context (\S+) )?apply -f (\S+)", command)
        assert applies, command
        here = page.shell.pwd()
        for context, path in applies:
            manifest = YAML(typ="safe", pure=True).load((here / path).read_text(encoding="utf-8"))
            kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
            assert (manifest["kind"], manifest["metadata"]) == (
                "Secret",
                {"name": "sops-age", "namespace": "flux-system"},
            )
            cluster = context or "koala"
            self.applied[cluster] = manifest
            self.cluster_keys[cluster] = manifest["stringData"]["age.agekey"]

    def apply_age_key(self, page: Page, index: int) -> None:
        """`pass show infra/age-key | kubectl create secret ...`: the reader's own key."""
        command = page.next_fence(index, "console").text
        assert "pass show infra/age-key" in command
        assert "create secret generic sops-age --from-file=age.agekey=/dev/stdin" in command
        self.cluster_keys["iguana"] = self.key_file.read_text()

    def save(self, page: Page, index: int) -> None:
        """The reader saves the next fence as the file its title names."""
        fence = page.next_fence(index)
        assert fence.title, "a saved fence needs a title"
        (page.shell.pwd() / fence.title).write_text(fence.text)

    def gitea_deploy_key(self, page: Page, index: int) -> None:
        """Gitea accepts the deploy key (write access) for mathias/infra, over its NodePort."""
        form = page.next_fence(index, "text").text
        assert "supervisor-deploy-key.pub" in form and "Enable write access" in form
        self.deploy_public_key = (page.shell.pwd() / "supervisor-deploy-key.pub").read_text()
        self.listen()

    def gitea_secrets(self, page: Page, index: int) -> None:
        """The app repo's Actions secrets, as the page says to fill them."""
        form = page.next_fence(index, "text").text
        here = page.shell.pwd()
        push_token = re.search(r"REGISTRY_CREDS\s+mathias:.*\(pass show (\S+)\)", form)
        assert push_token, form
        assert "supervisor-deploy-key" in form and "infra-known-hosts" in form
        self.secrets = {
            "secrets.REGISTRY_CREDS": f"mathias:{self.store[push_token.group(1)]}",
            "secrets.INFRA_DEPLOY_KEY": (here / "supervisor-deploy-key").read_text(),
            "secrets.INFRA_KNOWN_HOSTS": (here / "infra-known-hosts").read_text(),
        }

    def deploy(self) -> tuple[str, list[StepResult]]:
        """The runner checks out main of the app repo and runs the deploy job of its cd.yml."""
        listening = self.server is not None
        try:
            return self._deploy()
        finally:
            if not listening:
                self.stop_listening()

    def _deploy(self) -> tuple[str, list[StepResult]]:
        self.listen()
        sha = git("rev-parse", "refs/heads/main", cwd=self.app_remote).strip()
        checkout = self.root / f"checkout-{len(self.deploys) + 1}"
        git("clone", "-q", str(self.app_remote), str(checkout), cwd=self.root)
        git("checkout", "-q", sha, cwd=checkout)
        workflow = load_workflow(checkout / ".gitea/workflows/cd.yml")
        results = self.runner.run_job(
            workflow, "deploy", checkout, {"github.sha": sha, **self.secrets}
        )
        assert self.runner.leftovers() == []
        self.deploys.append((sha, results))
        return sha, results

    def gitea_runs_cd(self, page: Page, index: int) -> None:
        """A push to main: the deploy job runs and sets the tag."""
        sha, results = self.deploy()
        assert [r.returncode for r in results] == [0, 0], "\n".join(
            f"{r.name}: {r.returncode}\n{r.stdout}\n{r.stderr}" for r in results
        )
        assert (
            f"Set {IMAGE} to {sha} in apps/supervisor/kustomization.yaml on main"
            in results[1].stdout
        )

    def release(self, version: str, old: str, new: str, message: str) -> None:
        """The platform team changes the service's deployment template and tags it."""
        deployment = self.template / "template/service/deployment.yaml.jinja"
        text = deployment.read_text()
        assert old in text
        deployment.write_text(text.replace(old, new))
        commit_all(self.template, message)
        git("tag", version, cwd=self.template)

    def template_release(self, page: Page, index: int) -> None:
        """v2.0.0: the Deployment keeps five old ReplicaSets."""
        self.release(
            "v2.0.0", "revisionHistoryLimit: 3", "revisionHistoryLimit: 5", "Keep five ReplicaSets"
        )

    # ── pages after the tutorial ──────────────────────────────────────────────────────

    def conflicting_release(self, page: Page, index: int) -> None:
        """The reader had raised revisionHistoryLimit to 10; v3.0.0 changes the same line."""
        deployment = self.infra / "apps/supervisor/deployment.yaml"
        text = deployment.read_text()
        assert "revisionHistoryLimit: 5" in text
        deployment.write_text(text.replace("revisionHistoryLimit: 5", "revisionHistoryLimit: 10"))
        commit_all(self.infra, "Keep ten ReplicaSets of supervisor")
        git("push", "-q", cwd=self.infra)
        self.release(
            "v3.0.0", "revisionHistoryLimit: 5", "revisionHistoryLimit: 6", "Keep six ReplicaSets"
        )

    def keep_before_updating(self, page: Page, index: int) -> None:
        """The reader's editor: the conflict resolved as the page's fence shows."""
        fence = page.next_fence(index, "yaml")
        assert fence.title
        path = page.shell.pwd() / fence.title
        conflict = re.compile(
            r"^<<<<<<< before updating\n(.*?)^=======\n(.*?)^>>>>>>> after updating\n",
            re.MULTILINE | re.DOTALL,
        )
        text = path.read_text()
        (found,) = conflict.findall(text)
        shown = [f for f in page.fences("text") if "<<<<<<< before updating" in f.text]
        assert shown and shown[0].text == "".join(
            [
                "<<<<<<< before updating\n",
                found[0],
                "=======\n",
                found[1],
                ">>>>>>> after updating\n",
            ]
        )
        assert fence.text == found[0], "the page keeps the side before updating"
        path.write_text(conflict.sub(lambda _: fence.text, text))

    def merged_secrets(self, page: Page, index: int) -> None:
        """Two branches each set one secret, and their merge kept both new value lines.

        On main the reader set ANTHROPIC_API_KEY; a teammate's branch set LITELLM_API_KEY.
        The merge conflicted on the two (adjacent) value lines and on `lastmodified`/`mac`,
        and was resolved the natural way: both new values, the branch's metadata. That is
        the committed file the page recovers from.
        """
        rel = "apps/supervisor/secrets.enc.yaml"
        base = git("rev-parse", "HEAD", cwd=self.infra).strip()

        def set_secret(key: str, entry: str) -> None:
            self.store[entry] = _secret_value(entry.split("/")[-1])
            self.write_store()
            cmd = ["gitops-onboard", "secrets", "set", "supervisor", key]
            done = subprocess_run(cmd, self.infra, self.env, stdin=self.store[entry])
            assert done.returncode == 0, done.stderr
            commit_all(self.infra, f"Rotate {key}")

        git("checkout", "-q", "-b", "rotate-litellm", cwd=self.infra)
        set_secret("LITELLM_API_KEY", "supervisor/litellm-api-key")
        git("checkout", "-q", "main", cwd=self.infra)
        assert git("rev-parse", "HEAD", cwd=self.infra).strip() == base
        set_secret("ANTHROPIC_API_KEY", "supervisor/anthropic-api-key")
        merge = subprocess_run(["git", "merge", "--no-edit", "rotate-litellm"], self.infra)
        assert merge.returncode != 0 and f"CONFLICT (content): Merge conflict in {rel}" in (
            merge.stdout
        )
        ours = git("show", f":2:{rel}", cwd=self.infra)
        theirs = git("show", f":3:{rel}", cwd=self.infra)
        ours_line = re.search(r"^    ANTHROPIC_API_KEY: ENC\[.*$", ours, re.M)
        theirs_line = re.search(r"^    ANTHROPIC_API_KEY: ENC\[.*$", theirs, re.M)
        assert ours_line and theirs_line and ours_line.group(0) != theirs_line.group(0)
        (self.infra / rel).write_text(theirs.replace(theirs_line.group(0), ours_line.group(0)))
        git("add", rel, cwd=self.infra)
        git("commit", "-q", "--no-edit", cwd=self.infra)
        git("branch", "-q", "-D", "rotate-litellm", cwd=self.infra)
        git("push", "-q", cwd=self.infra)
        # What the page says every command that decrypts now prints.
        done = subprocess_run(
            ["gitops-onboard", "secrets", "list", "supervisor"], self.infra, self.env
        )
        assert done.returncode == 1
        (shown,) = [f for f in page.fences("text") if "MAC mismatch" in f.text]
        assert done.stderr == shown.text, done.stderr


def subprocess_run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False
    )


def gotk_sync(cluster: str) -> str:
    """The gotk-sync.yaml `flux bootstrap gitea ... --token-auth --path=clusters/<c>` writes."""
    return f"""\
# This manifest was generated by flux. DO NOT EDIT.
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  secretRef:
    name: flux-system
  url: https://gitea.d-ma.be/mathias/infra.git
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./clusters/{cluster}
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"""


def flux_view(world: World, cluster: str, monkeypatch: Any) -> dict[str, Any]:
    """What Flux on `cluster` applies: build the pushed infra repo's cluster folder, then
    decrypt every Secret with that cluster's `sops-age` key, with the sops binary (which,
    stricter than Flux, also checks the MAC). Every object is schema-checked."""
    view = world.root / f"flux-view-{uuid.uuid4().hex[:8]}"
    git("clone", "-q", str(world.infra_remote), str(view), cwd=world.root)
    monkeypatch.setenv("SOPS_AGE_KEY", world.cluster_keys[cluster])
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(world.root / "no-key-here"))
    objects: dict[str, Any] = {}
    for obj in kustomize_build(view / "clusters" / cluster):
        if obj["kind"] == "Secret":
            assert "sops" in obj, obj["metadata"]
            obj = YAML(typ="safe", pure=True).load(sops.decrypt_text(dump_yaml(obj)))
        if "toolkit.fluxcd.io" not in obj["apiVersion"]:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        namespace = obj["metadata"].get("namespace", "")
        objects[f"{obj['kind']}/{namespace}/{obj['metadata']['name']}"] = obj
    return objects


def every_byte(*repos: Path) -> str:
    """Every version of every file in the repos' histories, and their working trees."""
    texts = []
    for repo in repos:
        texts.append(git("log", "--all", "-p", "--format=%H %s", cwd=repo))
        for path in repo.rglob("*"):
            if path.is_file() and ".git" not in path.parts:
                texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


DOCS = PROJECT / "docs"
