"""Shared test helpers: real git, real kustomize, real schema validation."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
from copier._cli import CopierApp
from ruamel.yaml import YAML

from generator.kubectl import kustomize_build

PROJECT = Path(__file__).resolve().parent.parent
K8S_VERSION = "1.32.0"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def commit_all(repo: Path, message: str) -> None:
    git("add", "-A", cwd=repo)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=repo)


def copier_cli(*args: str, cwd: Path) -> int:
    """`copier ARGS` run in `cwd` by Copier's own command line, in this process: the same
    argument parsing and run as the `copier` executable, without an interpreter start."""
    with contextlib.chdir(cwd):
        _, code = CopierApp.run(["copier", *args], exit=False)
    return int(code)


def snapshot_template(destination: Path, tag: str | None = "v1.0.0") -> Path:
    """Commit the template as it sits on disk into a fresh repo and tag it."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PROJECT / "copier.yml", destination / "copier.yml")
    shutil.copytree(PROJECT / "template", destination / "template", dirs_exist_ok=True)
    if not (destination / ".git").exists():
        git("init", "-q", "-b", "main", cwd=destination)
    commit_all(destination, f"template {tag or 'snapshot'}")
    if tag:
        git("tag", tag, cwd=destination)
    return destination


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under `root` (git internals excluded) with its bytes."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def build_and_validate(cluster_dir: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` the cluster and validate every object strictly.

    Encrypted Secrets are validated without their `sops` metadata, which Flux strips when it
    decrypts them before applying.
    """
    objects = kustomize_build(cluster_dir)
    assert objects, f"{cluster_dir} built to nothing"
    for obj in objects:
        shown = {k: v for k, v in obj.items() if k != "sops"} if obj["kind"] == "Secret" else obj
        _validate(json.dumps(shown, sort_keys=True))
    return objects


@functools.lru_cache(maxsize=4096)
def _validate(obj_json: str) -> None:
    """Validate one object (as JSON): kubernetes_validate reads its schema files on every
    call, and the suite validates the same objects many times over."""
    kubernetes_validate.validate(json.loads(obj_json), K8S_VERSION, strict=True)


@dataclass(frozen=True)
class AgeKey:
    """A throwaway age key pair for tests; `path` is the private key file (mode 0600)."""

    public: str
    key_file_text: str
    path: Path


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            return obj
    raise AssertionError(f"no {kind}/{name} in build output")


# The smallest service answers, as CLI arguments: web on koala.
WEB_ARGS = (
    "--service",
    "web",
    "--clusters",
    "koala",
    "-d",
    "registry=gitea.example.com",
    "-d",
    "owner=team",
)


def running(pid: int) -> bool:
    """True while process `pid` runs (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def processes_using_temp(temp: Path) -> list[int]:
    """Running processes whose TMPDIR is `temp` or a folder in it (as each was started)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            variables = environ.read_bytes().split(b"\0")
        except OSError:
            continue
        pid = int(environ.parent.name)
        for variable in variables:
            if variable.startswith(b"TMPDIR="):
                value = Path(os.fsdecode(variable.removeprefix(b"TMPDIR=")))
                if value.is_relative_to(temp) and running(pid):
                    found.append(pid)
    return found
