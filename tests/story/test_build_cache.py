"""Faster builds: BuildKit cache mounts in every Dockerfile, and the optional registry cache.

The build step of the rendered `cd.yml` runs as the deploy job runs it (tests/workflow_harness.py),
with a `buildctl` stand-in that records its arguments and the registry credentials it could
read from `DOCKER_CONFIG` at the moment it ran.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from generator.copier_run import copying
from tests.app_world import APPS
from tests.conftest import make_hermetic
from tests.helpers import commit_all, git
from tests.workflow_harness import Runner, load_workflow

CREDS = "cd-bot:registry-token-51c2"

# What each build step fills, and where the builder image's tool keeps it (golang's GOMODCACHE
# and GOCACHE, pip's and npm's default cache folders for root).
CACHES = {
    "go": {
        "go mod download": ["/go/pkg/mod"],
        "go build": ["/go/pkg/mod", "/root/.cache/go-build"],
    },
    "python": {"pip install": ["/root/.cache/pip"]},
    "node": {"npm ci": ["/root/.npm"]},
}
LANGUAGE_APPS = {"go": "supervisor", "python": "ledger", "node": "portal"}

# Records the arguments and the credentials in $DOCKER_CONFIG/config.json, by registry.
RECORDING_BUILDCTL = """#!/usr/bin/env bash
set -euo pipefail
printf '%s\\0' "$@" > "$STANDIN_LOG/0-buildctl"
if [[ -n "${DOCKER_CONFIG:-}" && -f "$DOCKER_CONFIG/config.json" ]]; then
  cp "$DOCKER_CONFIG/config.json" "$STANDIN_LOG/docker-config.json"
fi
for arg in "$@"; do
  case "$arg" in
    type=oci,dest=*) printf 'oci image archive\\n' > "${arg#type=oci,dest=}" ;;
  esac
done
"""


def _run_instructions(dockerfile: str) -> list[str]:
    """Every RUN instruction, its continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    return [line for line in joined.splitlines() if line.startswith("RUN ")]


def _render(template: Path, destination: Path, answers: dict[str, Any]) -> Path:
    destination.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=destination)
    data = {**answers, "kind": "app", "infra_repo": "file:///nowhere/infra.git"}
    if data.get("volume_type", "none") != "none":
        data.setdefault("state_dir", data["volume_mount_path"])
    copying.copy(str(template), destination, data)
    commit_all(destination, "stamp")
    return destination


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory, template_repo: Path) -> dict[str, Path]:
    """Each language's app without the registry cache, and the Go app with it."""
    root = tmp_path_factory.mktemp("build-cache")
    found: dict[str, Path] = {}
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("build-cache-home"), mp)
        for language, name in LANGUAGE_APPS.items():
            found[language] = _render(template_repo, root / language, APPS[name])
        found["cached"] = _render(
            template_repo, root / "cached", {**APPS["supervisor"], "registry_build_cache": True}
        )
    return found


def _build(app: Path, runner_root: Path) -> tuple[Runner, list[str]]:
    runner = Runner(runner_root)
    (runner.root / "bin/buildctl").write_text(RECORDING_BUILDCTL)
    workflow = load_workflow(app / ".gitea/workflows/cd.yml")
    steps = workflow["jobs"]["deploy"]["steps"]
    workflow["jobs"]["deploy"]["steps"] = [s for s in steps if s["name"].startswith("Build")]
    sha = git("rev-parse", "HEAD", cwd=app).strip()
    context = {"github.sha": sha, "secrets.REGISTRY_CREDS": CREDS}
    (result,) = runner.run_job(workflow, "deploy", app, context)
    assert result.returncode == 0, result.stderr
    arguments = (runner.root / "log/0-buildctl").read_text().split("\0")[:-1]
    return runner, arguments


@pytest.mark.parametrize("language", sorted(CACHES))
def test_every_package_step_keeps_its_downloads_in_a_cache_mount(
    apps: dict[str, Path], language: str
) -> None:
    """Downloads and compiled packages outlive the build in BuildKit's cache, not the image."""
    runs = _run_instructions((apps[language] / "Dockerfile").read_text())
    for command, targets in CACHES[language].items():
        (run,) = [r for r in runs if command in r]
        mounts = re.findall(r"--mount=type=cache,target=(\S+)", run)
        assert mounts == targets, run
        assert "--no-cache-dir" not in run  # the mount is the cache; the layer never holds it


def test_without_the_answer_the_build_uses_no_registry_cache(
    apps: dict[str, Path], tmp_path: Path
) -> None:
    runner, arguments = _build(apps["go"], tmp_path / "runner")
    assert not any("cache" in argument for argument in arguments)
    assert not (runner.root / "log/docker-config.json").exists()


def test_the_registry_cache_is_read_and_written_beside_the_image(
    apps: dict[str, Path], tmp_path: Path
) -> None:
    answers = APPS["supervisor"]
    image = f"{answers['registry']}/{answers['owner']}/{answers['service']}"
    runner, arguments = _build(apps["cached"], tmp_path / "runner")

    pairs = list(itertools.pairwise(arguments))
    assert ("--import-cache", f"type=registry,ref={image}:buildcache") in pairs
    assert ("--export-cache", f"type=registry,ref={image}:buildcache,mode=max") in pairs
    # buildctl logs in with the same credentials as skopeo, from a file, never an argument
    config = json.loads((runner.root / "log/docker-config.json").read_text())
    auth = config["auths"][answers["registry"]]["auth"]
    assert base64.b64decode(auth).decode() == CREDS
    assert not any(CREDS in argument for argument in arguments)
    assert runner.leftovers() == []
