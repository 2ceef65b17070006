"""The app template's output: schema-valid workflows, shellcheck-clean scripts,
hadolint-clean Dockerfiles, and the properties the CD workflow must keep."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.app_world import APPS, AppWorld
from tests.helpers import PROJECT, load_yaml
from tests.workflow_harness import EXPRESSION, load_workflow, run_scripts

BIN = Path(sys.executable).parent


def _all_apps(world: AppWorld) -> list[tuple[str, Path]]:
    return [(f"ssh/{n}", p) for n, p in world.ssh_apps.items()] + [
        (f"local/{n}", p) for n, p in world.local_apps.items()
    ]


def test_every_workflow_validates_against_the_github_workflow_schema(app_world: AppWorld) -> None:
    files = [str(path / ".gitea/workflows/cd.yml") for _, path in _all_apps(app_world)]
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_rejects_a_broken_workflow(app_world: AppWorld, tmp_path: Path) -> None:
    # The reference's failure: a heredoc body at column 0 inside `run: |` ends the block.
    text = (app_world.ssh_apps["supervisor"] / ".gitea/workflows/cd.yml").read_text()
    broken = tmp_path / "cd.yml"
    broken.write_text(text.replace("          set -euo pipefail\n", "cat <<EOF\nx: [\nEOF\n", 1))
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0


def test_every_run_script_passes_shellcheck(app_world: AppWorld, tmp_path: Path) -> None:
    scripts = []
    for label, path in _all_apps(app_world):
        for index, (_name, script) in enumerate(
            run_scripts(load_workflow(path / ".gitea/workflows/cd.yml"))
        ):
            target = tmp_path / f"{label.replace('/', '-')}-{index}.sh"
            target.write_text("#!/usr/bin/env bash\n" + script)
            scripts.append(str(target))
    # test, template check, build, bump, preflight
    assert len(scripts) == 5 * len(_all_apps(app_world))
    done = subprocess.run(
        [str(BIN / "shellcheck"), "--shell=bash", "--severity=style", *scripts],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_is_wired_to_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $DIR/*\n")
    done = subprocess.run(
        [str(BIN / "shellcheck"), "--shell=bash", str(bad)], capture_output=True, check=False
    )
    assert done.returncode != 0


@pytest.mark.parametrize("name", sorted(APPS))
def test_the_dockerfile_passes_hadolint(app_world: AppWorld, name: str) -> None:
    dockerfile = app_world.ssh_apps[name] / "Dockerfile"
    done = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_is_wired_to_fail(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM node\nRUN npm install -g some-cli\n")
    done = subprocess.run(
        [str(BIN / "hadolint"), "--failure-threshold", "style", str(bad)],
        capture_output=True,
        check=False,
    )
    assert done.returncode != 0


def test_workflow_keeps_its_expressions_literal_and_out_of_scripts(app_world: AppWorld) -> None:
    for _, path in _all_apps(app_world):
        text = (path / ".gitea/workflows/cd.yml").read_text()
        assert "{%" not in text and "{{ " not in text.replace("${{ ", "")
        for expression in (
            "github.sha",
            "secrets.REGISTRY_CREDS",
            "secrets.INFRA_DEPLOY_KEY",
            "secrets.INFRA_KNOWN_HOSTS",
        ):
            assert f'"${{{{ {expression} }}}}"' in text
        workflow = load_workflow(path / ".gitea/workflows/cd.yml")
        for name, script in run_scripts(workflow):
            assert not EXPRESSION.search(script), f"{name}: expression inside a script"
            assert "<<" not in script, f"{name}: heredoc inside run:"
        # Secrets reach scripts only through the env: of the steps that need them.
        deploy = workflow["jobs"]["deploy"]
        assert not any("secrets." in str(v) for v in deploy["env"].values())


def test_workflow_gates_deploy_on_test_in_one_file(app_world: AppWorld) -> None:
    for name, path in app_world.ssh_apps.items():
        workflow = load_workflow(path / ".gitea/workflows/cd.yml")
        branch = APPS[name].get("app_branch", "main")
        assert list(workflow["jobs"]) == ["test", "deploy", "preflight"]  # preflight: by hand
        assert workflow["jobs"]["deploy"]["needs"] == "test"
        assert workflow["jobs"]["deploy"]["if"] == (
            f"github.event_name == 'push' && github.ref == 'refs/heads/{branch}'"
        )
        triggers = workflow["on"]
        assert triggers["push"] == {"branches": [branch]}
        assert "pull_request" in triggers and "workflow_run" not in triggers
        assert "concurrency" not in workflow and "concurrency" not in workflow["jobs"]["deploy"]
        test_steps = workflow["jobs"]["test"]["steps"]
        assert test_steps[-1]["run"] == load_answers(path)["test_command"]


def load_answers(app: Path) -> dict[str, Any]:
    data = load_yaml(app / ".copier-answers.yml")
    assert isinstance(data, dict)
    return data


def test_workflow_never_weakens_ssh_or_puts_credentials_on_a_command_line(
    app_world: AppWorld,
) -> None:
    for _, path in _all_apps(app_world):
        text = (path / ".gitea/workflows/cd.yml").read_text()
        assert "--dest-creds" not in text and "--creds" not in text
        assert re.search(r"StrictHostKeyChecking[= ]no", text) is None
        assert "StrictHostKeyChecking=yes" in text and "ssh-keyscan " not in text.split("run:")[1]
        assert "push=true" not in text


def test_reference_app_renders_as_the_reference_needs(app_world: AppWorld) -> None:
    app = app_world.ssh_apps["supervisor"]
    dockerfile = (app / "Dockerfile").read_text()
    lines = dockerfile.splitlines()
    assert "FROM golang:1.26-bookworm AS builder" in lines
    assert "FROM node:22-slim" in lines
    assert "RUN npm install -g @anthropic-ai/claude-code@2 && claude --version" in lines
    assert "    -o /out/supervisor ./cmd/supervisor" in lines
    assert "COPY config/ /app/config/" in lines
    assert 'VOLUME ["/app/brain"]' in lines
    assert "EXPOSE 3200" in lines
    assert lines[-2:] == ["USER 10001:10001", 'ENTRYPOINT ["/usr/local/bin/supervisor"]']
    assert 'ENV LITELLM_BASE_URL="http://iguana:4000"' in lines
    assert "-X main.version=${VERSION}" in dockerfile
    workflow = load_workflow(app / ".gitea/workflows/cd.yml")
    bump = workflow["jobs"]["deploy"]["steps"][2]["env"]
    assert (bump["INFRA_REPO"], bump["INFRA_SSH_HOST"], bump["INFRA_SSH_PORT"]) == (
        "git@gitea.d-ma.be:mathias/infra.git",
        "127.0.0.1",
        "30022",
    )
    assert bump["DEPLOY_CLUSTER"] == ""
    assert workflow["jobs"]["deploy"]["env"]["IMAGE"] == "gitea.d-ma.be/mathias/supervisor"
    ignore = (app / ".dockerignore").read_text().splitlines()
    assert {".worktrees", "bin/", "brain/"} <= set(ignore)


def test_each_language_gets_its_build_stage_and_toolchain(app_world: AppWorld) -> None:
    expected = {
        "supervisor": "actions/setup-go@",
        "ledger": "actions/setup-python@",
        "portal": "actions/setup-node@",
    }
    for name, action in expected.items():
        app = app_world.ssh_apps[name]
        answers = load_answers(app)
        steps = load_workflow(app / ".gitea/workflows/cd.yml")["jobs"]["test"]["steps"]
        setup = steps[1]
        assert setup["uses"].startswith(action)
        assert list(setup["with"].values()) == [answers["language_version"]]
        dockerfile = (app / "Dockerfile").read_text().splitlines()
        assert f"FROM {answers['builder_image']}:{answers['builder_tag']} AS builder" in dockerfile
        assert f"FROM {answers['runtime_image']}:{answers['runtime_tag']}" in dockerfile
    python = (app_world.ssh_apps["ledger"] / "Dockerfile").read_text().splitlines()
    assert "    pip install -r requirements.txt" in python
    assert python[-1] == 'ENTRYPOINT ["python", "-m", "ledger"]'
    assert 'VOLUME ["/var/lib/ledger"]' in python
    node = (app_world.ssh_apps["portal"] / "Dockerfile").read_text().splitlines()
    assert "    npm ci" in node and node[-1] == 'ENTRYPOINT ["node", "index.js"]'
    assert not any(line.startswith("VOLUME") for line in node)


def test_dockerfile_env_values_are_taken_literally(app_world: AppWorld) -> None:
    lines = (app_world.ssh_apps["ledger"] / "Dockerfile").read_text().splitlines()
    assert 'ENV BANNER="say \\"hi\\" to \\$USER \\\\o/"' in lines
    assert 'ENV ENABLED="yes"' in lines


def test_dockerignore_keeps_vcs_ci_env_files_and_secrets_out(app_world: AppWorld) -> None:
    for name, app in app_world.ssh_apps.items():
        patterns = [
            line
            for line in (app / ".dockerignore").read_text().splitlines()
            if line and not line.startswith("#")
        ]
        assert not any(p.startswith("!") for p in patterns), name
        required = {
            ".git",
            ".gitea",
            ".github",
            "**/.env",
            "**/.env.*",
            "**/*.pem",
            "**/*.key",
            "**/id_rsa*",
            "**/id_ed25519*",
            "**/*.agekey",
            "**/.npmrc",
            "**/.netrc",
            ".copier-answers.yml",
        }
        assert required <= set(patterns), name
    assert "**/node_modules" in (app_world.ssh_apps["portal"] / ".dockerignore").read_text()
    assert "**/__pycache__" in (app_world.ssh_apps["ledger"] / ".dockerignore").read_text()


def test_the_bump_in_the_workflow_is_the_shared_awk_program(app_world: AppWorld) -> None:
    program = (PROJECT / "template/shared/bump-newtag.awk").read_text()
    assert "'" not in program, "a quote would end the shell string that holds the program"
    for _, app in _all_apps(app_world):
        script = load_workflow(app / ".gitea/workflows/cd.yml")["jobs"]["deploy"]["steps"][2]["run"]
        start = script.index("bump='\n") + len("bump='\n")
        body = script[start : script.index("\n'\n", start) + 1]
        assert body.strip("\n") == program.strip("\n")
