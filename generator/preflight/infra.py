"""The infra repo over SSH, checked the way the deploy job reaches it.

TCP, the pinned host key, a fetch and a push with the deploy key, and the one `images:`
entry the tag bump edits.

The deploy key never touches the disk: it goes to a private ssh-agent through ssh-add's
standard input, and ssh finds it there by its public key.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from generator import giturl
from generator.deploy_target import deploy_kustomization
from generator.errors import InputError, OnboardError, ToolError
from generator.preflight.model import Check, Credentials, Options, Target
from generator.promote import PromotionRefused
from generator.runner import run, which

__all__ = ["check_infra"]

PORT_FIX = (
    "infra_ssh_host/infra_ssh_port must name where the runner reaches the Git server's SSH: "
    "a Gitea in Kubernetes listens on its NodePort (e.g. 30022), not on port 22, which is "
    "the node's own sshd; find it with `ssh-keyscan -p PORT HOST`, then "
    "`copier update --data infra_ssh_port=PORT`"
)
HOSTKEY_FIX = (
    "pin the server's real key: `ssh-keyscan -p {port} {host}`, compare its fingerprint with "
    "the one the Git server shows, and put that line in the INFRA_KNOWN_HOSTS secret"
)
READ_FIX = (
    "add the public half of INFRA_DEPLOY_KEY as a deploy key of the infra repo ({url}); "
    "check infra_repo names that repo"
)
WRITE_FIX = (
    "give the deploy key write access (Gitea: the infra repo's Settings → Deploy keys → "
    "Enable write access), and allow it to push to {branch} if the branch is protected"
)


def _tcp(target: Target, timeout: float) -> Check:
    where = f"{target.infra_ssh_host}:{target.infra_ssh_port}"
    try:
        with socket.create_connection(
            (target.infra_ssh_host, target.infra_ssh_port), timeout=timeout
        ) as connection:
            connection.settimeout(timeout)
            banner = connection.recv(64)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return Check("infra.tcp", "fail", f"{where}: {reason}", PORT_FIX)
    if not banner.startswith(b"SSH-"):
        return Check("infra.tcp", "fail", f"{where} accepts TCP but does not speak SSH", PORT_FIX)
    return Check("infra.tcp", "ok", f"{where} accepts TCP and speaks SSH")


def _keys(lines: str, known_as: str | None) -> set[tuple[str, str]]:
    found = set()
    for line in lines.splitlines():
        fields = line.split()
        hosts = fields[0].split(",") if fields else []
        if len(fields) >= 3 and (known_as is None or known_as in hosts):
            found.add((fields[1], fields[2]))
    return found


def _hostkey(target: Target, creds: Credentials, timeout: float) -> Check:
    fix = HOSTKEY_FIX.format(host=target.infra_ssh_host, port=target.infra_ssh_port)
    pinned = _keys(creds.known_hosts, target.known_as)
    if not pinned:
        return Check(
            "infra.hostkey",
            "fail",
            f"INFRA_KNOWN_HOSTS holds no host key for {target.known_as}",
            fix,
        )
    scan = run(
        [
            "ssh-keyscan",
            "-T",
            str(max(1, int(timeout))),
            "-p",
            str(target.infra_ssh_port),
            target.infra_ssh_host,
        ],
        ok_codes=range(256),
        timeout=timeout * 3,
    )
    offered = _keys(scan.stdout, None)
    if pinned & offered:
        kinds = ", ".join(sorted(kind for kind, _ in pinned & offered))
        return Check("infra.hostkey", "ok", f"{target.known_as} offers the pinned {kinds} key")
    kinds = ", ".join(sorted(kind for kind, _ in offered)) or "no key"
    detail = f"{target.known_as} offers {kinds}, none of which INFRA_KNOWN_HOSTS pins"
    return Check("infra.hostkey", "fail", detail, fix)


def _wait_until_listening(sock: Path, agent: subprocess.Popen[bytes]) -> None:
    """ssh-agent binds its socket before it listens: wait until a connection is accepted."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and agent.poll() is None:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(sock))
                return
            except OSError:
                time.sleep(0.02)
    raise OnboardError(f"ssh-agent did not start on {sock}")


@contextmanager
def _agent(private_key: str, work: Path) -> Iterator[dict[str, str]]:
    """A private ssh-agent holding the key; yields the environment that points at it."""
    # A unix socket's path holds at most 107 bytes; a runner's TMPDIR can be longer.
    base = tempfile.gettempdir() if len(tempfile.gettempdir()) <= 64 else "/tmp"
    sock_dir = Path(tempfile.mkdtemp(prefix="gitops-onboard-agent-", dir=base))
    sock = sock_dir / "agent.sock"
    agent = subprocess.Popen(
        [which("ssh-agent"), "-D", "-a", str(sock)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_listening(sock, agent)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        run(["ssh-add", "-q", "-"], stdin=private_key.replace("\r", "").strip() + "\n", env=env)
        public = run(["ssh-add", "-L"], env=env).stdout.splitlines()[0]
        (work / "deploy_key.pub").write_text(public + "\n")
        yield env
    finally:
        agent.terminate()
        agent.wait()
        shutil.rmtree(sock_dir, ignore_errors=True)


@contextmanager
def _plain() -> Iterator[dict[str, str]]:
    """The environment as it is (a file:// infra repo needs no key)."""
    yield dict(os.environ)


def _git_env(base: dict[str, str], target: Target, work: Path) -> dict[str, str]:
    ssh = [
        "ssh -F /dev/null",
        f"-i '{work / 'deploy_key.pub'}' -o IdentitiesOnly=yes -o BatchMode=yes",
        f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile='{work / 'known_hosts'}'",
        "-o GlobalKnownHostsFile=/dev/null",
        f"-o HostName={target.infra_ssh_host} -o Port={target.infra_ssh_port}",
    ]
    return {**base, "GIT_SSH_COMMAND": " ".join(ssh), "GIT_TERMINAL_PROMPT": "0"}


_GIT_BOILERPLATE = (
    "fatal: could not read from remote repository.",
    "please make sure you have the correct access rights",
    "and the repository exists.",
)


def _why(error: ToolError) -> str:
    """The lines of git's stderr that say what went wrong, without its generic advice."""
    lines = [line.strip() for line in error.stderr.splitlines() if line.strip()]
    kept = [line for line in lines if line.lower() not in _GIT_BOILERPLATE]
    return "; ".join(kept or lines[-1:]) or f"exit {error.returncode}"


def _entries(text: str, image: str) -> int:
    data: Any = yaml.safe_load(text)
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        return 0
    return sum(1 for entry in images if isinstance(entry, dict) and entry.get("name") == image)


def _kustomization(target: Target, clone: Path) -> Check:
    # A deploy_cluster the service is not on is bad input (InputError), not a failed check.
    try:
        relative = deploy_kustomization(clone, target.service, target.deploy_cluster)
    except PromotionRefused as error:
        fix = "`gitops-onboard update` in the infra repo restores the service's stamped files"
        return Check("infra.kustomization", "fail", str(error), fix)
    path = clone / relative
    where = f"{relative} on {target.infra_branch}"
    if not path.is_file():
        fix = f"onboard {target.service} into the infra repo first (`gitops-onboard onboard`)"
        return Check("infra.kustomization", "fail", f"{where} does not exist", fix)
    try:
        count = _entries(path.read_text(encoding="utf-8"), target.image)
    except yaml.YAMLError:
        return Check(
            "infra.kustomization", "fail", f"{where} is not valid YAML", "fix the file by hand"
        )
    if count == 1:
        return Check(
            "infra.kustomization", "ok", f"{where} has one images: entry for {target.image}"
        )
    fix = (
        f"keep exactly one images: entry named {target.image} (the image the job pushes: "
        "registry/owner/service); `gitops-onboard update` restores the stamped one"
    )
    return Check(
        "infra.kustomization",
        "fail",
        f"{where} has {count} images: entries for {target.image}",
        fix,
    )


def _repo_checks(target: Target, creds: Credentials, options: Options) -> list[Check]:
    with tempfile.TemporaryDirectory(prefix="gitops-onboard-preflight-") as tmp:
        work = Path(tmp)
        (work / "known_hosts").write_text(creds.known_hosts.replace("\r", "") + "\n")
        with _agent(creds.deploy_key, work) if creds.deploy_key.strip() else _plain() as base:
            env = _git_env(base, target, work)
            clone = work / "infra"
            clone_cmd = ["git", "clone", "--quiet", "--depth", "1", "--single-branch"]
            clone_cmd += ["--branch", target.infra_branch, target.infra_repo, str(clone)]
            try:
                run(clone_cmd, env=env, timeout=options.timeout * 6)
            except ToolError as error:
                fix = READ_FIX.format(url=target.infra_repo)
                fetch = Check(
                    "infra.fetch", "fail", f"cannot fetch {target.infra_branch}: {_why(error)}", fix
                )
                return [
                    fetch,
                    Check("infra.push", "skip", "needs a fetch"),
                    Check("infra.kustomization", "skip", "needs a fetch"),
                ]
            checks = [Check("infra.fetch", "ok", f"the deploy key fetches {target.infra_branch}")]
            push = ["git", "-C", str(clone), "push", "--dry-run", "--quiet", "origin"]
            push += [f"HEAD:refs/heads/{target.infra_branch}"]
            try:
                run(push, env=env, timeout=options.timeout * 6)
                checks.append(
                    Check(
                        "infra.push",
                        "ok",
                        f"the deploy key may push to {target.infra_branch} (dry run)",
                    )
                )
            except ToolError as error:
                fix = WRITE_FIX.format(branch=target.infra_branch)
                checks.append(
                    Check("infra.push", "fail", f"`git push --dry-run` refused: {_why(error)}", fix)
                )
            checks.append(_kustomization(target, clone))
            return checks


def check_infra(target: Target, creds: Credentials, options: Options) -> list[Check]:
    """TCP, host key, fetch, push (dry run) and the kustomization's images: entry."""
    url = giturl.parse(target.infra_repo)
    checks: list[Check] = []
    if url.is_ssh:
        checks.append(_tcp(target, options.timeout))
        if checks[-1].status == "ok":
            try:
                checks.append(_hostkey(target, creds, options.timeout))
            except OnboardError as error:
                checks.append(Check("infra.hostkey", "fail", str(error), "install openssh-client"))
        if checks[-1].status != "ok":
            rest = ["infra.hostkey", "infra.fetch", "infra.push", "infra.kustomization"]
            done = {c.name for c in checks}
            return checks + [
                Check(n, "skip", "needs the checks above") for n in rest if n not in done
            ]
        if not creds.deploy_key.strip():
            fix = (
                "run the preflight job of cd.yml (it passes the secret) or export INFRA_DEPLOY_KEY"
            )
            detail = "INFRA_DEPLOY_KEY is empty"
            return [*checks, Check("infra.fetch", "fail", detail, fix)] + [
                Check(n, "skip", "needs a fetch") for n in ("infra.push", "infra.kustomization")
            ]
    try:
        return checks + _repo_checks(target, creds, options)
    except InputError:
        raise
    except OnboardError as error:
        fix = (
            "INFRA_DEPLOY_KEY must be an unencrypted OpenSSH private key"
            if str(error).startswith("ssh-add")
            else "install openssh-client (ssh-agent, ssh-add) on the runner"
        )
        return [*checks, Check("infra.fetch", "fail", f"the deploy key: {error}", fix)]
