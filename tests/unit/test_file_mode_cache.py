"""copier_run.file_mode_cache: Copier reads `core.fileMode` once per run, and still puts a
file's executable bit into git's index where git ignores file modes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import copier
import pytest

from generator.copier_run.file_mode_cache import file_mode_once
from tests.conftest import AgeKey
from tests.helpers import commit_all, git

GITOPS_ONBOARD = (sys.executable, "-m", "generator")


def _file_mode_reads(trace: Path) -> int:
    return sum(
        text.count("config --type=bool --get core.fileMode")
        for text in (path.read_text() for path in trace.iterdir())
    )


def test_a_copy_reads_the_setting_once_not_once_per_file(
    tmp_path: Path, template_repo: Path, age_key: AgeKey
) -> None:
    trace = tmp_path / "trace"  # git's own trace, one file per git process
    trace.mkdir()
    infra = tmp_path / "infra"
    infra.mkdir()
    git("init", "-q", cwd=infra)
    done = subprocess.run(
        [
            *GITOPS_ONBOARD,
            "init",
            str(infra),
            "--clusters",
            "koala",
            "--age-recipient",
            age_key.public,
            "--template",
            str(template_repo),
        ],
        env={**os.environ, "GIT_TRACE2": str(trace)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert len([p for p in infra.rglob("*") if p.is_file() and ".git" not in p.parts]) > 3
    assert _file_mode_reads(trace) == 1


def _template_with_a_script(root: Path) -> Path:
    root.mkdir()
    (root / "copier.yml").write_text("_subdirectory: files\n")
    (root / "files").mkdir()
    script = root / "files/run.sh"
    script.write_text("#!/bin/sh\necho new\n")
    script.chmod(0o755)
    git("init", "-q", cwd=root)
    commit_all(root, "a script")
    git("tag", "v1", cwd=root)
    return root


@pytest.mark.parametrize("file_mode", ["false", "true", None])
def test_the_executable_bit_reaches_the_index_only_where_git_ignores_modes(
    tmp_path: Path, file_mode: str | None
) -> None:
    template = _template_with_a_script(tmp_path / "template")
    destination = tmp_path / "destination"
    destination.mkdir()
    git("init", "-q", cwd=destination)
    if file_mode is not None:
        git("config", "core.fileMode", file_mode, cwd=destination)
    (destination / "run.sh").write_text("#!/bin/sh\necho old\n")
    commit_all(destination, "the script, not executable")
    file_mode_once()
    copier.run_copy(
        str(template), destination, vcs_ref="v1", defaults=True, overwrite=True, quiet=True
    )
    mode = git("ls-files", "--stage", "run.sh", cwd=destination).split()[0]
    assert mode == ("100755" if file_mode == "false" else "100644")
