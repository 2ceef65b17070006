"""Every command's output piped to a reader that has gone (`gitops-onboard ... | head`).

The commands run as a user runs them, in their own process, with standard output a pipe whose
reading end is already closed: the first write fails (EPIPE), so whatever a command prints it
meets a gone reader, deterministically. Each must stop quietly with the shell's code for a
writer the reader left (141), with no traceback and no "Exception ignored" on stderr. A command
that printed nothing would exit 0 and fail the test, so each line below does print.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import WEB_ARGS, AgeKey

SECRET_KEYS = ("-d", "secret_keys=[API_TOKEN]")
EXE = str(Path(sys.executable).parent / "gitops-onboard")


@pytest.fixture
def closed_pipe() -> Iterator[int]:
    """The writing end of a pipe no one reads any more."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        yield write_end
    finally:
        os.close(write_end)


def run_piped(argv: list[str], stdout: int, cwd: Path, stdin: str = "") -> str:
    """Run gitops-onboard with `stdout` as its standard output; return its stderr."""
    done = subprocess.run(
        [EXE, *argv],
        stdout=stdout,
        stderr=subprocess.PIPE,
        input=stdin,
        text=True,
        cwd=cwd,
        check=False,
        timeout=300,
    )
    shown = f"gitops-onboard {' '.join(argv)} (exit {done.returncode}):\n{done.stderr}"
    assert "Traceback" not in done.stderr, shown
    assert "BrokenPipe" not in done.stderr and "Exception ignored" not in done.stderr, shown
    assert done.returncode == 141, shown
    return done.stderr


def test_every_command_that_prints_stops_quietly_when_the_reader_is_gone(
    closed_pipe: int,
    infra_repo: Path,
    template_repo: Path,
    age_private_key: AgeKey,
    tmp_path: Path,
) -> None:
    infra, template = str(infra_repo), str(template_repo)
    age = age_private_key.public
    commands: list[list[str]] = [
        ["--version"],
        ["completion", "bash"],
        ["keygen", "--out", str(tmp_path / "keys.txt")],
        ["init", "--template", template, "--clusters", "koala", "--age-recipient", age, "fresh"],
        ["onboard", "--infra", infra, "--template", template, "--dry-run", *WEB_ARGS],
        ["onboard", "--infra", infra, "--template", template, *WEB_ARGS, *SECRET_KEYS],
        ["secrets", "list", "web", "--infra", infra],
        ["secrets", "audit", infra],
        ["check", "--offline", infra],
        ["check", "--offline", "--format", "json", infra],
        ["doctor", "--infra", infra],
        ["template", "list", "--repo", infra],
        ["flux", "enable-decryption", "--infra", infra],
        ["offboard", "web", "--yes", "--infra", infra],
    ]
    for argv in commands:
        run_piped(argv, closed_pipe, tmp_path)
    # What the commands changed was written before their output was lost.
    assert (tmp_path / "keys.txt").is_file()
    assert (tmp_path / "fresh/clusters/koala/kustomization.yaml").is_file()
    assert not (infra_repo / "apps/web").exists()
