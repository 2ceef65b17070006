"""A runner that cannot deploy, found before the first push.

Each test breaks one thing the deploy job depends on, with the real parts (registry behind
nginx, OpenSSH sshd, the real git, ssh and skopeo), and reads the line `gitops-onboard
preflight` prints for it and its fix. Before `preflight` existed, each of these cost a
failed deploy, a commit and a retrigger. Only BuildKit is played by a stand-in `buildctl`
that talks to a unix socket the test serves (or does not).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

from generator.cli import main
from generator.preflight.buildkit import check_buildkit
from tests.helpers import git, tree_bytes
from tests.promote_world import split_into_overlays
from tests.real_world import SERVICE, RealWorld, running_world
from tests.realparts import free_port, keypair

BUILDCTL = """#!{python}
# Stand-in for buildctl: `--version`, and `debug workers` asked over the --addr socket.
import socket, sys
args = sys.argv[1:]
if args == ["--version"]:
    print("buildctl github.com/moby/buildkit v0.13.2 stand-in")
    sys.exit(0)
addr = args[args.index("--addr") + 1].removeprefix("unix://")
client = socket.socket(socket.AF_UNIX)
client.connect(addr)
client.sendall(b"workers?\\n")
if client.recv(64) != b"worker\\n":
    sys.exit("error: buildkitd closed the connection")
print("ID\\t\\t\\t\\tPLATFORMS")
print("w0abc\\t\\t\\t\\tlinux/amd64")
"""


@dataclass
class Runner:
    """A runner's view: the app repo, its PATH with buildctl, the job's secrets."""

    world: RealWorld
    app: Path
    env: dict[str, str]

    def preflight(self, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in self.env.items():
                mp.setenv(name, value)
            code = main(["preflight", str(self.app), "--timeout", "3", *args])
        out, err = capsys.readouterr()
        assert self.world.registry.password not in out + err
        assert "PRIVATE KEY" not in out + err
        return code, out + err

    def checks(self, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
        code, out = self.preflight("--format", "json", *args, capsys=capsys)
        found = {c["name"]: c for c in json.loads(out)}
        found["exit"] = code
        return found

    def answer(self, name: str, value: str) -> None:
        """Change one answer in the app repo's .copier-answers.yml."""
        path = self.app / ".copier-answers.yml"
        lines = [
            f"{name}: {value}" if line.startswith(f"{name}:") else line
            for line in path.read_text().splitlines()
        ]
        path.write_text("\n".join(lines) + "\n")


def _serve_buildkit(path: Path, answer: bool) -> socket.socket:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen(8)

    def loop() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                if connection.recv(64):
                    connection.sendall(b"worker\n")

    if answer:
        threading.Thread(target=loop, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> Iterator[RealWorld]:
    with running_world(tmp_path_factory, template_repo, pristine_infra) as running:
        yield running


@pytest.fixture
def runner(world: RealWorld) -> Iterator[Runner]:
    # World-readable, so that the runner's user need not be the test's (see the socket test).
    root = Path(tempfile.mkdtemp(prefix="preflight-"))
    root.chmod(0o755)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    (bin_dir / "buildctl").write_text(BUILDCTL.format(python=sys.executable))
    (bin_dir / "buildctl").chmod(0o755)
    app = root / "app"
    shutil.copytree(world.app, app, symlinks=True)
    sock = root / "buildkitd.sock"
    server = _serve_buildkit(sock, answer=True)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "SSL_CERT_FILE": str(world.registry.ca),
        "BUILDKIT_HOST": f"unix://{sock}",
        "REGISTRY_CREDS": world.registry.creds,
        "INFRA_DEPLOY_KEY": world.deploy_key,
        "INFRA_KNOWN_HOSTS": world.sshd.known_hosts_line(),
    }
    head = git("rev-parse", "refs/heads/main", cwd=world.remote).strip()
    try:
        yield Runner(world, app, env)
    finally:
        server.close()
        shutil.rmtree(root)
        git("update-ref", "refs/heads/main", head, cwd=world.remote)


def test_a_runner_that_can_deploy_passes_every_check(runner: Runner, capsys) -> None:
    """The default 64 MiB upload goes through nginx; every line is ok; exit 0."""
    before = git("for-each-ref", cwd=runner.world.remote)
    checks = runner.checks(capsys)
    assert checks.pop("exit") == 0, [c for c in checks.values() if c["status"] != "ok"]
    assert {c["status"] for c in checks.values()} == {"ok"}
    assert "64 MiB upload was accepted and removed" in checks["registry.upload"]["detail"]
    assert "may push to main (dry run)" in checks["infra.push"]["detail"]
    assert git("for-each-ref", cwd=runner.world.remote) == before  # the push was a dry run
    code, text = runner.preflight(capsys=capsys)
    assert code == 0 and len(text.splitlines()) == len(checks)


def test_registry_stopped_behind_its_proxy_is_reported_as_the_upstream(
    runner: Runner, capsys
) -> None:
    runner.world.registry.stop_registry()
    try:
        checks = runner.checks(capsys, "--only", "registry")
    finally:
        runner.world.registry.start_registry()
    assert checks["exit"] == 1
    assert "the registry behind it does not (HTTP 502)" in checks["registry.login"]["detail"]
    assert "start the registry behind the proxy" in checks["registry.login"]["fix"]
    assert checks["registry.upload"]["status"] == "skip"


def test_nothing_listening_on_the_registry_port_fails_tls_reachability(
    runner: Runner, capsys
) -> None:
    runner.world.registry.stop_nginx()
    try:
        checks = runner.checks(capsys, "--only", "registry")
    finally:
        runner.world.registry.start_nginx()
    assert checks["exit"] == 1
    assert "cannot reach" in checks["registry.tls"]["detail"]
    assert "refused" in checks["registry.tls"]["detail"].lower()
    assert "start the registry" in checks["registry.tls"]["fix"]


def test_a_certificate_from_an_untrusted_ca_is_named(runner: Runner, capsys) -> None:
    runner.env["SSL_CERT_FILE"] = "/etc/ssl/certs/ca-certificates.crt"
    checks = runner.checks(capsys, "--only", "registry")
    assert checks["exit"] == 1
    assert "is not trusted" in checks["registry.tls"]["detail"]
    assert "update-ca-certificates" in checks["registry.tls"]["fix"]


def test_a_wrong_registry_password_fails_the_login(runner: Runner, capsys) -> None:
    runner.env["REGISTRY_CREDS"] = f"{runner.world.registry.user}:not-the-token"
    checks = runner.checks(capsys, "--only", "registry")
    assert checks["exit"] == 1
    assert "refuses the REGISTRY_CREDS credentials (HTTP 401)" in checks["registry.login"]["detail"]
    assert "write:package" in checks["registry.login"]["fix"]


def test_an_nginx_body_limit_of_1m_is_reported_as_the_proxy_limit(runner: Runner, capsys) -> None:
    """The reference's twice-failed deploy: nginx's default-sized body limit refuses layers."""
    registry = runner.world.registry
    registry.stop_nginx()
    registry.start_nginx(body_limit="1m")
    try:
        checks = runner.checks(capsys, "--only", "registry", "--upload-size", "8MiB")
    finally:
        registry.stop_nginx()
        registry.start_nginx(body_limit="0")
    assert checks["exit"] == 1
    upload = checks["registry.upload"]
    assert upload["detail"] == (
        "the proxy refused a 8 MiB upload with HTTP 413 (its request body limit)"
    )
    assert "client_max_body_size 0;" in upload["fix"]
    assert "Nginx Proxy Manager" in upload["fix"]


def test_sshd_on_another_port_than_the_answer_names(runner: Runner, capsys) -> None:
    """The reference's port 22 vs NodePort 30022: the answer names a port sshd is not on."""
    runner.answer("infra_ssh_port", str(free_port()))
    checks = runner.checks(capsys, "--only", "infra")
    assert checks["exit"] == 1
    assert "Connection refused" in checks["infra.tcp"]["detail"]
    assert "NodePort (e.g. 30022), not on port 22" in checks["infra.tcp"]["fix"]
    assert checks["infra.push"]["status"] == "skip"


def test_a_server_with_another_host_key_is_not_trusted(
    runner: Runner, capsys, tmp_path: Path
) -> None:
    _, impostor = keypair(tmp_path, "impostor")
    port = runner.world.sshd.port
    runner.env["INFRA_KNOWN_HOSTS"] = f"[127.0.0.1]:{port} {' '.join(impostor.split()[:2])}\n"
    checks = runner.checks(capsys, "--only", "infra")
    assert checks["exit"] == 1
    assert "none of which INFRA_KNOWN_HOSTS pins" in checks["infra.hostkey"]["detail"]
    assert f"ssh-keyscan -p {port} 127.0.0.1" in checks["infra.hostkey"]["fix"]


def test_a_deploy_key_without_write_access_cannot_push(runner: Runner, capsys) -> None:
    runner.env["INFRA_DEPLOY_KEY"] = runner.world.read_only_key
    checks = runner.checks(capsys, "--only", "infra")
    assert checks["exit"] == 1
    assert checks["infra.fetch"]["status"] == "ok"
    assert checks["infra.push"]["detail"] == (
        "`git push --dry-run` refused: "
        "ERROR: this deploy key is not authorized to write to the repository"
    )
    assert "Enable write access" in checks["infra.push"]["fix"]


def test_a_deploy_key_unknown_to_the_server_cannot_fetch(
    runner: Runner, capsys, tmp_path: Path
) -> None:
    runner.env["INFRA_DEPLOY_KEY"], _ = keypair(tmp_path, "stranger")
    checks = runner.checks(capsys, "--only", "infra")
    assert checks["exit"] == 1
    assert "Permission denied" in checks["infra.fetch"]["detail"]
    assert "as a deploy key of the infra repo" in checks["infra.fetch"]["fix"]


def _push_change(world: RealWorld, tmp_path: Path, edit: Any) -> None:
    clone = tmp_path / "edit"
    git("clone", "-q", str(world.remote), str(clone), cwd=tmp_path)
    edit(clone)
    git("add", "-A", cwd=clone)
    git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qm", "edit", cwd=clone)
    git("push", "-q", "origin", "HEAD:main", cwd=clone)


def test_a_missing_kustomization_is_found_before_the_bump(
    runner: Runner, capsys, tmp_path: Path
) -> None:
    _push_change(runner.world, tmp_path, lambda c: shutil.rmtree(c / "apps" / SERVICE))
    checks = runner.checks(capsys, "--only", "infra")
    assert checks["exit"] == 1
    kustomization = checks["infra.kustomization"]
    assert kustomization["detail"] == f"apps/{SERVICE}/kustomization.yaml on main does not exist"
    assert f"onboard {SERVICE} into the infra repo first" in kustomization["fix"]


def test_two_images_entries_for_the_image_are_refused(
    runner: Runner, capsys, tmp_path: Path
) -> None:
    def duplicate(clone: Path) -> None:
        path = clone / "apps" / SERVICE / "kustomization.yaml"
        text = path.read_text()
        entry = text[text.index("images:\n") + len("images:\n") :]
        path.write_text(text + entry)

    _push_change(runner.world, tmp_path, duplicate)
    checks = runner.checks(capsys, "--only", "infra")
    assert checks["exit"] == 1
    assert "has 2 images: entries" in checks["infra.kustomization"]["detail"]


def test_no_buildkit_socket(runner: Runner, capsys) -> None:
    runner.env["BUILDKIT_HOST"] = "unix:///run/buildkit/nowhere.sock"
    checks = runner.checks(capsys, "--only", "buildkit")
    assert checks["exit"] == 1
    assert checks["buildkit.socket"]["detail"] == "/run/buildkit/nowhere.sock does not exist"
    assert "systemctl start buildkit" in checks["buildkit.socket"]["fix"]


def _as_nobody(address: str) -> list[dict[str, str]]:
    """`check_buildkit` in a child process that runs as nobody when the test runs as root."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, check, report, exit
        try:
            os.close(read)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            found = [asdict(c) for c in check_buildkit(address, 3)]
            os.write(write, json.dumps(found).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    result: list[dict[str, str]] = json.loads(data)
    return result


def test_a_socket_the_runner_user_may_not_open(runner: Runner) -> None:
    """The reference's "buildkit group" failure: the socket exists, the runner's user may
    not open it. Root may open anything, so as root the check runs as nobody."""
    sock = runner.app.parent / "locked.sock"
    server = _serve_buildkit(sock, answer=True)
    sock.chmod(0)
    try:
        checks = {c["name"]: c for c in _as_nobody(f"unix://{sock}")}
    finally:
        server.close()
    assert checks["buildkit.socket"]["status"] == "ok"
    access = checks["buildkit.access"]
    assert access["status"] == "fail"
    assert f"may not open {sock} (mode 0," in access["detail"]
    assert "usermod -aG buildkit act_runner" in access["fix"]
    assert "restart act_runner" in access["fix"]
    assert checks["buildkit.workers"]["status"] == "skip"
    assert stat.S_IMODE(sock.stat().st_mode) == 0


def test_a_buildkitd_that_accepts_but_never_answers(runner: Runner, capsys) -> None:
    """The reference's data-dir failure: buildkitd's socket accepts, the daemon never works."""
    sock = runner.app.parent / "silent.sock"
    server = _serve_buildkit(sock, answer=False)
    runner.env["BUILDKIT_HOST"] = f"unix://{sock}"
    try:
        checks = runner.checks(capsys, "--only", "buildkit")
    finally:
        server.close()
    assert checks["exit"] == 1
    assert checks["buildkit.access"]["status"] == "ok"
    assert "timed out after 3s" in checks["buildkit.workers"]["detail"]
    assert "/var/lib/buildkit" in checks["buildkit.workers"]["fix"]


def test_a_tool_missing_from_path(runner: Runner, capsys, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "git", "ssh", "ssh-keygen", "awk", "base64"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or tool)
    runner.env["PATH"] = f"{runner.env['PATH'].split(os.pathsep)[0]}{os.pathsep}{bin_dir}"
    checks = runner.checks(capsys, "--only", "tools")
    assert checks["exit"] == 1
    assert checks["tools.skopeo"] == {
        "name": "tools.skopeo",
        "status": "fail",
        "detail": "skopeo is not on PATH",
        "fix": "apt-get install skopeo",
    }
    assert checks["tools.git"]["status"] == "ok"
    assert checks["tools.git"]["detail"].startswith("git version 2.")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--upload-size", "lots"], "--upload-size: must be a size such as 64MiB"),
        (["--upload-size", "0"], "--upload-size: must be a size such as 64MiB"),
        (["--timeout", "-1"], "--timeout: must be a number of seconds"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    runner: Runner, capsys, args: list[str], message: str
) -> None:
    code, out = runner.preflight(*args, capsys=capsys)
    assert code == 2
    assert out.count("\n") == 1 and message in out


def test_a_folder_that_is_no_app_repo_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["preflight", str(tmp_path)]) == 2
    _, err = capsys.readouterr()
    assert err == (
        "gitops-onboard: error: APP_REPO: has no .copier-answers.yml; run preflight in an app "
        "repo stamped by gitops-onboard\n"
    )


def test_a_deploy_cluster_the_service_is_not_on_is_bad_input(
    runner: Runner, capsys, tmp_path: Path
) -> None:
    """The deploy job would fail on its first push; preflight names the answer instead."""
    runner.answer("deploy_cluster", "iguana")
    before = tree_bytes(runner.app)
    code, out = runner.preflight("--only", "infra", capsys=capsys)
    assert code == 2
    assert out.strip().splitlines() == [
        "gitops-onboard: error: deploy_cluster: must be one of the clusters of "
        f"{SERVICE} in the infra repo: koala (got 'iguana')"
    ]
    assert tree_bytes(runner.app) == before


def test_a_service_with_overlays_is_checked_in_the_overlay_cd_bumps(
    runner: Runner, capsys, tmp_path: Path
) -> None:
    def spread(clone: Path) -> None:
        answers = clone / "apps" / SERVICE / ".copier-answers.yml"
        answers.write_text(answers.read_text().replace("- koala\n", "- koala\n- iguana\n"))
        split_into_overlays(clone, SERVICE, ["koala", "iguana"], runner.world.image)

    _push_change(runner.world, tmp_path, spread)
    checks = runner.checks(capsys, "--only", "infra")
    assert checks["infra.kustomization"]["status"] == "ok"
    assert checks["infra.kustomization"]["detail"].startswith(
        f"apps/{SERVICE}/clusters/koala/kustomization.yaml on main has one images: entry"
    )
    runner.answer("deploy_cluster", "iguana")
    checks = runner.checks(capsys, "--only", "infra")
    assert checks["infra.kustomization"]["detail"].startswith(
        f"apps/{SERVICE}/clusters/iguana/kustomization.yaml on main has one images: entry"
    )
