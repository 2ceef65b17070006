"""The command line as a user meets it: help, completion, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from generator.cli import build_parser, main

BIN = Path(sys.executable).parent


def subcommands() -> list[str]:
    parser = build_parser()
    action = parser._subparsers._group_actions[0]  # type: ignore[union-attr]
    return list(action.choices)


@pytest.mark.parametrize("command", subcommands())
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"gitops-onboard {command}" in out


def test_bash_completion_completes_commands(tmp_path: Path) -> None:
    script = tmp_path / "completion.bash"
    script.write_text(
        subprocess.run(
            [str(BIN / "gitops-onboard"), "completion", "bash"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    probe = (
        f'source "{script}"; COMP_WORDS=(gitops-onboard off); COMP_CWORD=1; '
        'COMP_LINE="gitops-onboard off"; COMP_POINT=${#COMP_LINE}; '
        '_shtab_gitops_onboard gitops-onboard off gitops-onboard; echo "${COMPREPLY[@]}"'
    )
    result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["offboard"]


def test_zsh_completion_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "zsh"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#compdef gitops-onboard")
    for command in subcommands():
        assert command in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["no-such-command"])
    assert done.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_output_piped_to_a_reader_that_stops_early_ends_quietly() -> None:
    """`gitops-onboard completion bash | head -1`: no BrokenPipeError traceback."""
    exe = Path(sys.executable).parent / "gitops-onboard"
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; '{exe}' completion bash | head -c 1 >/dev/null"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert result.stderr == ""


# What the Copier task, run as a process of its own after every copy and update, must not
# load: the library of the other commands, Copier itself, and `packaging`'s grammar.
NOT_FOR_THE_TASK = (
    "generator.commands.adopt",
    "generator.commands.update",
    "generator.fleet",
    "generator.check",
    "copier",
    "packaging.requirements",
)


def test_the_copier_task_loads_only_what_it_uses(tmp_path: Path) -> None:
    """`python -m generator _task` (what `copier.yml` runs) imports none of `NOT_FOR_THE_TASK`."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "generator", "_task", "infra", "missing.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and "missing.yml: cannot be read" in lines[-1], result.stderr
    imported = {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}
    assert "generator.copier_run.task" in imported
    assert sorted(imported.intersection(NOT_FOR_THE_TASK)) == []
