"""Stamped app repos and the infra remote they deploy to, shared by the app tests.

Three services: the reference (`supervisor`: Go builder, node runtime, port 3200, brain
volume, SSH on 127.0.0.1:30022), a Python one and a Node one. Each app is rendered twice:
as its real answers say (SSH infra URL), and pointing at a bare infra remote on disk
(`file://`, the local-testing form of `infra_repo`) for the deploy harness.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.copier_run import copying as copier_api
from generator.onboard import onboard_service
from tests.helpers import PROJECT, commit_all, git, load_yaml

REFERENCE = {
    **load_yaml(PROJECT / "examples/supervisor.yml"),
    **load_yaml(PROJECT / "examples/supervisor-app.yml"),
}

APPS: dict[str, dict[str, Any]] = {
    "supervisor": REFERENCE,
    "ledger": {
        "service": "ledger",
        "registry": "registry.example.org:5000",
        "owner": "platform/apps",
        "port": 8000,
        "clusters": ["koala"],
        "env": {"LOG_LEVEL": "info", "BANNER": 'say "hi" to $USER \\o/', "ENABLED": "yes"},
        "volume_type": "pvc",
        "volume_mount_path": "/var/lib/ledger",
        "language": "python",
        "infra_repo": "ssh://git@git.example.org:2222/platform/infra.git",
    },
    "portal": {
        "service": "portal",
        "registry": "gitea.example.com",
        "owner": "web",
        "port": 3000,
        "clusters": ["koala"],
        "language": "node",
        "language_version": "24",
        "app_branch": "trunk",
        "infra_repo": "git@gitea.example.com:web/infra.git",
    },
}


@dataclass(frozen=True)
class AppWorld:
    """Rendered apps and the pristine infra remote."""

    root: Path
    pristine: Path  # bare infra repo with the three services onboarded
    remote: Path  # where the harness workflows push (reset from `pristine` per test)
    ssh_apps: dict[str, Path]  # rendered from the real answers
    local_apps: dict[str, Path]  # rendered with infra_repo=file://<remote>

    def reset_remote(self) -> Path:
        if self.remote.exists():
            shutil.rmtree(self.remote)
        shutil.copytree(self.pristine, self.remote, symlinks=True)
        return self.remote


def _render_app(template: Path, destination: Path, answers: dict[str, Any]) -> Path:
    destination.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=destination)
    data = {**answers, "kind": "app"}
    if data.get("volume_type", "none") != "none":
        data.setdefault("state_dir", data["volume_mount_path"])
    copier_api.copy(str(template), destination, data)
    commit_all(destination, "stamp the app's CD files")
    return destination


def build_world(root: Path, template: Path, stamped_infra: Path) -> AppWorld:
    infra = root / "infra"
    shutil.copytree(stamped_infra, infra, symlinks=True)
    for answers in APPS.values():
        service_answers = {k: v for k, v in answers.items() if k != "kind"}
        onboard_service(infra, service_answers, str(template))
    commit_all(infra, "onboard supervisor, ledger and portal")
    pristine = root / "pristine.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(infra), str(pristine)], check=True)
    remote = root / "remote.git"
    ssh_apps = {name: _render_app(template, root / "ssh" / name, a) for name, a in APPS.items()}
    local_apps = {
        name: _render_app(template, root / "local" / name, {**a, "infra_repo": f"file://{remote}"})
        for name, a in APPS.items()
    }
    return AppWorld(root, pristine, remote, ssh_apps, local_apps)
