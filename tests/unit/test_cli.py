"""The command line as a user meets it: help, completion, one-line errors."""

from __future__ import annotations

import argparse
import json
import shlex
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


def examples(command: str) -> list[list[str]]:
    """The command lines of `command`'s `--help` examples, as argument lists."""
    text = build_parser(command)._subparsers._group_actions[0].choices[command].format_help()  # type: ignore[union-attr]
    joined = text.split("example", 1)[1].replace("\\\n", " ")
    lines = []
    for line in joined.splitlines():
        if not line.strip().startswith(f"gitops-onboard {command}"):
            continue
        words = shlex.split(line, comments=True)
        if words[:2] == ["gitops-onboard", command]:
            shell = [i for i, word in enumerate(words) if word[0] in "|<>&;"]
            lines.append(words[1 : shell[0] if shell else None])
    return lines


@pytest.mark.parametrize("command", subcommands())
def test_a_command_parses_alike_with_only_its_own_parser(command: str) -> None:
    """A run of one command builds only its subparser; its examples parse as with all."""
    lines = examples(command)
    assert lines, f"no example for {command}"
    for words in lines:
        alone = vars(build_parser(command).parse_args(words))
        whole = vars(build_parser().parse_args(words))
        assert alone.pop("root_parser") is not whole.pop("root_parser")
        assert alone == whole, words


def test_every_command_module_is_in_the_registry_under_the_name_it_adds() -> None:
    from generator.commands import registry

    folder = Path(registry.__file__).parent
    modules = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")} - {"registry"}
    assert modules == {*registry.VISIBLE.values(), *registry.HIDDEN.values()}
    for name in [*registry.VISIBLE, *registry.HIDDEN]:
        subparsers = argparse.ArgumentParser().add_subparsers()
        registry.command_module(name).add_parser(subparsers)
        assert name in subparsers.choices


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
LOADED_BY = """
import json, sys
from generator.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def loaded_by(*argv: str, cwd: Path) -> tuple[int, set[str]]:
    """Run `gitops-onboard ARGV` in a fresh interpreter: its exit code and the modules loaded."""
    result = subprocess.run(
        [sys.executable, "-c", LOADED_BY, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    return report["code"], set(report["modules"])


def test_the_copier_task_loads_only_what_it_uses(tmp_path: Path) -> None:
    """`gitops-onboard _task` (what `copier.yml` runs) loads none of `NOT_FOR_THE_TASK`."""
    code, modules = loaded_by("_task", "infra", "missing.yml", cwd=tmp_path)
    assert code == 1  # the answers file is missing
    assert "generator.copier_run.task" in modules
    assert sorted(modules.intersection(NOT_FOR_THE_TASK)) == []


def test_a_command_loads_no_other_command(tmp_path: Path) -> None:
    """`gitops-onboard keygen --help` loads the module of `keygen` and of no other command."""
    code, modules = loaded_by("keygen", "--help", cwd=tmp_path)
    assert code == 0
    commands = {  # their shared helpers (`_common`) aside
        name for name in modules if name.startswith("generator.commands.") and "._" not in name
    }
    assert commands == {"generator.commands.registry", "generator.commands.keygen"}
