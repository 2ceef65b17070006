"""The generated deploy job on real parts: registry, nginx, skopeo, sshd, git-shell.

The job's own `run:` scripts (read from the rendered cd.yml) push a real OCI image with
the real skopeo to Debian's docker-registry behind nginx (TLS from a throwaway CA, htpasswd
auth), and bump the tag in the infra repo over Debian's OpenSSH with the host key pinned.
Only `buildctl` is a stand-in: it writes a valid OCI archive of a tiny scratch image.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import ssl
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.kustomization import image_tag
from tests import realparts
from tests.helpers import PROJECT, build_and_validate, find, git
from tests.real_world import OWNER, SERVICE, RealWorld, running_world
from tests.workflow_harness import Runner, StepResult, load_workflow

BUILDCTL = """#!{python}
# Stand-in for buildctl: writes a real OCI archive of a tiny image for the VERSION build-arg.
import os, sys
from pathlib import Path
sys.path.insert(0, {project!r})
from tests.oci_image import write_archive
args = sys.argv[1:]
version = next(a.split("=", 1)[1] for a in args if a.startswith("build-arg:VERSION="))
dest = next(a[len("type=oci,dest="):] for a in args if a.startswith("type=oci,dest="))
image = write_archive(Path(dest), version)
Path(os.environ["STANDIN_LOG"], "built-" + version).write_text(image.manifest_digest)
"""


class RealRunner(Runner):
    """A runner whose only stand-in is buildctl; skopeo, ssh and git are the real ones."""

    def __post_init__(self) -> None:
        super().__post_init__()
        (self.root / "bin" / "skopeo").unlink()
        self._tool("buildctl", BUILDCTL.format(python=sys.executable, project=str(PROJECT)))

    def built(self, version: str) -> str:
        """The manifest digest the stand-in built for `version`."""
        return (self.root / "log" / f"built-{version}").read_text()


@pytest.fixture(scope="module")
def real_world(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> Iterator[RealWorld]:
    """The registry stack and sshd running, and an app repo stamped for them."""
    with running_world(tmp_path_factory, template_repo, pristine_infra) as world:
        yield world


def _context(world: RealWorld, sha: str) -> dict[str, str]:
    return {
        "github.sha": sha,
        "secrets.REGISTRY_CREDS": world.registry.creds,
        "secrets.INFRA_DEPLOY_KEY": world.deploy_key,
        "secrets.INFRA_KNOWN_HOSTS": world.sshd.known_hosts_line(),
    }


def _registry_get(world: RealWorld, path: str) -> tuple[dict[str, str], bytes]:
    context = ssl.create_default_context(cafile=str(world.registry.ca))
    auth = base64.b64encode(world.registry.creds.encode()).decode()
    request = urllib.request.Request(
        f"https://{world.registry.host}{path}",
        headers={
            "Authorization": f"Basic {auth}",
            "Accept": "application/vnd.oci.image.manifest.v1+json",
        },
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        return dict(response.headers), response.read()


def _run(world: RealWorld, runner: RealRunner, sha: str) -> list[StepResult]:
    workflow = load_workflow(world.app / ".gitea/workflows/cd.yml")
    return runner.run_job(workflow, "deploy", world.app, _context(world, sha))


def _ok(results: list[StepResult]) -> None:
    assert [r.returncode for r in results] == [0, 0], "\n".join(
        f"{r.name}: {r.returncode}\n{r.stdout}\n{r.stderr}" for r in results
    )


def test_deploy_job_pushes_a_real_image_and_bumps_the_tag_over_real_ssh(
    real_world: RealWorld, tmp_path: Path
) -> None:
    world = real_world
    runner = RealRunner(
        tmp_path / "runner",
        extra_env={"SSL_CERT_FILE": str(world.registry.ca)},
        overrides={"PUSH_RETRY_BASE_SECONDS": "0"},
    )
    sha = git("rev-parse", "HEAD", cwd=world.app).strip()
    before = git("rev-parse", "refs/heads/main", cwd=world.remote).strip()

    results = _run(world, runner, sha)

    _ok(results)
    assert f"Pushed {world.image}:{sha}@" in results[0].stdout
    # The registry holds exactly the manifest that was built, under the tag and its digest.
    built = runner.built(sha)
    headers, _ = _registry_get(world, f"/v2/{OWNER}/{SERVICE}/manifests/{sha}")
    assert headers["Docker-Content-Digest"] == built
    _, manifest = _registry_get(world, f"/v2/{OWNER}/{SERVICE}/manifests/{built}")
    assert "sha256:" + hashlib.sha256(manifest).hexdigest() == built
    layer = json.loads(manifest)["layers"][0]["digest"]
    _, blob = _registry_get(world, f"/v2/{OWNER}/{SERVICE}/blobs/{layer}")
    assert f"{sha}\n".encode() in gzip.decompress(blob)
    # One commit over SSH on top of the old head, pinning the tag and the digest skopeo pushed
    # (the registry's own digest of the manifest: what runs is exactly what was built).
    kustomization = f"apps/{SERVICE}/kustomization.yaml"
    assert git("rev-parse", "refs/heads/main~1", cwd=world.remote).strip() == before
    text = git("show", f"refs/heads/main:{kustomization}", cwd=world.remote)
    assert image_tag(text, world.image) == sha
    assert f'digest: "{built}"' in text
    # The infra cluster still builds (kubectl kustomize) with the new image on the Deployment.
    checkout = tmp_path / "verify"
    git("clone", "-q", str(world.remote), str(checkout), cwd=tmp_path)
    deployment = find(build_and_validate(checkout / "clusters/koala"), "Deployment", SERVICE)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{world.image}:{sha}@{built}"
    assert runner.leftovers() == []

    # The same sha again: the push is repeated, the bump is a no-op.
    again = _run(world, runner, sha)
    _ok(again)
    assert "nothing to commit" in again[1].stdout


def test_wrong_registry_password_fails_the_push_and_leaves_the_infra_repo_alone(
    real_world: RealWorld, tmp_path: Path
) -> None:
    world = real_world
    runner = RealRunner(tmp_path / "runner", extra_env={"SSL_CERT_FILE": str(world.registry.ca)})
    refs = git("for-each-ref", cwd=world.remote)
    context = _context(world, "0" * 40)
    context["secrets.REGISTRY_CREDS"] = f"{world.registry.user}:wrong"
    workflow = load_workflow(world.app / ".gitea/workflows/cd.yml")

    results = runner.run_job(workflow, "deploy", world.app, context)

    assert [r.returncode for r in results] == [1]
    assert "401" in results[0].stderr or "unauthorized" in results[0].stderr.lower()
    assert git("for-each-ref", cwd=world.remote) == refs
    assert runner.leftovers() == []


def test_a_missing_part_fails_the_test_with_one_line_naming_its_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A machine without nginx must not pass by skipping the real parts."""
    monkeypatch.setitem(realparts.BINARIES, "nginx", ("/nonexistent/nginx", "nginx"))
    monkeypatch.setitem(realparts.BINARIES, "sshd", ("/nonexistent/sshd", "openssh-server"))
    with pytest.raises(pytest.fail.Exception) as failed:
        realparts.require("nginx", "skopeo", "sshd")
    assert str(failed.value) == (
        "missing Debian packages: nginx openssh-server (run `make preflight` as root, or "
        "apt-get install -y --no-install-recommends nginx openssh-server)"
    )


PYTHON_SHIM = """#!/usr/bin/env bash
# The step's Python: `-m venv DIR` makes a venv whose pip install is already done and whose
# gitops-onboard is this checkout's.
set -euo pipefail
[[ "$1 $2" == "-m venv" ]]
mkdir -p "$3/bin"
pip='printf "%s\\n" "$*" > "$(dirname "$0")/pip-args"'
printf '#!/usr/bin/env bash\\n%s\\n' "$pip" > "$3/bin/python"
chmod +x "$3/bin/python"
ln -sf {gitops_onboard} "$3/bin/gitops-onboard"
"""


def test_the_preflight_job_checks_the_runner_with_the_deploy_jobs_secrets(
    real_world: RealWorld, tmp_path: Path
) -> None:
    """The dispatch-only job, run as a runner would: the registry and infra checks pass with
    the secrets the workflow hands it; this machine has no buildkitd, which it reports."""
    world = real_world
    shim = tmp_path / "python"
    shim.write_text(
        PYTHON_SHIM.format(gitops_onboard=Path(sys.executable).parent / "gitops-onboard")
    )
    shim.chmod(0o755)
    runner_temp = tmp_path / "runner-temp"
    runner = RealRunner(
        tmp_path / "runner",
        extra_env={"SSL_CERT_FILE": str(world.registry.ca), "RUNNER_TEMP": str(runner_temp)},
    )
    context = {
        **_context(world, "0" * 40),
        "steps.preflight-python.outputs.python-path": str(shim),
        "vars.GITOPS_ONBOARD_PIP": "",
    }
    workflow = load_workflow(world.app / ".gitea/workflows/cd.yml")

    (result,) = runner.run_job(workflow, "preflight", world.app, context)

    lines = {line.split()[1]: line for line in result.stdout.splitlines()}
    assert result.returncode == 1, result.stderr
    for name in ("registry.tls", "registry.login", "registry.upload", "infra.tcp"):
        assert lines[name].startswith("ok"), lines[name]
    for name in ("infra.hostkey", "infra.fetch", "infra.push", "infra.kustomization"):
        assert lines[name].startswith("ok"), lines[name]
    assert "64 MiB upload was accepted" in lines["registry.upload"]
    assert lines["buildkit.socket"].startswith("fail")
    assert "/run/buildkit/buildkitd.sock does not exist" in lines["buildkit.socket"]
    pip_args = (runner_temp / "gitops-onboard-preflight/bin/pip-args").read_text()
    assert pip_args.startswith("-m pip install --quiet --no-compile gitops-onboard @ git+")
    assert world.registry.password not in result.stdout + result.stderr
    assert "PRIVATE KEY" not in result.stdout + result.stderr
