"""What the benchmark scripts share: quiet commands and a tagged snapshot of the template."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)


def snapshot(tmp: Path) -> Path:
    template = tmp / "template"
    template.mkdir()
    shutil.copy2(PROJECT / "copier.yml", template)
    shutil.copytree(PROJECT / "template", template / "template")
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "t"],
        ["git", "tag", "v1.0.0"],
    ):
        run(cmd, template)
    return template
