"""The check's CI wiring: the infra repo's workflow and the pre-commit hook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from generator.giturl import pip_requirement
from tests.helpers import PROJECT

BIN = Path(sys.executable).parent


def workflow(infra: Path) -> Path:
    return infra / ".gitea/workflows/check.yml"


def test_the_workflow_validates_against_the_github_workflow_schema(infra_repo: Path) -> None:
    done = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(workflow(infra_repo)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    broken = infra_repo / "broken.yml"
    broken.write_text(workflow(infra_repo).read_text().replace("runs-on:", "runs_on:"))
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1


def test_every_run_script_passes_shellcheck(infra_repo: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load(workflow(infra_repo).read_text())
    steps = doc["jobs"]["check"]["steps"]
    scripts = []
    for index, step in enumerate(s for s in steps if "run" in s):
        script = tmp_path / f"step{index}.sh"
        script.write_text("#!/usr/bin/env bash\n" + step["run"])
        scripts.append(str(script))
    assert len(scripts) == 3
    done = subprocess.run(
        [str(BIN / "shellcheck"), "--shell=bash", "--severity=style", *scripts],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_the_workflow_runs_the_check_on_every_push_and_pull_request(infra_repo: Path) -> None:
    text = workflow(infra_repo).read_text()
    doc = yaml.safe_load(text)
    assert set(doc[True]) == {"push", "pull_request"}  # YAML 1.1 reads `on` as True
    job = doc["jobs"]["check"]
    assert job["runs-on"] == "ubuntu-latest"
    assert job["steps"][-1]["run"] == "gitops-onboard check ."
    # The one expression stays literal for Gitea, and only in env, never inside a script.
    assert job["env"]["GITOPS_ONBOARD_PIP"] == "${{ vars.GITOPS_ONBOARD_PIP }}"
    assert all("${{" not in step.get("run", "") for step in job["steps"])
    answers = yaml.safe_load((infra_repo / ".copier-answers.yml").read_text())
    # The infra check needs the Kubernetes schemas and sops: the `infra` extra.
    assert job["env"]["STAMPED_PIP"] == pip_requirement(
        answers["_src_path"], answers["_commit"], ["infra"]
    )


def test_pre_commit_hook_runs_the_check() -> None:
    [hook] = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "gitops-onboard-check"
    assert hook["entry"].split()[:2] == ["gitops-onboard", "check"]
    assert (hook["language"], hook["pass_filenames"], hook["always_run"]) == (
        "python",
        False,
        True,
    )
    # The entry's command is this project's console script.
    pyproject = (PROJECT / "pyproject.toml").read_text()
    assert 'gitops-onboard = "generator.cli:main"' in pyproject


def test_the_app_workflow_runs_the_check_before_the_tests_and_the_build(
    tmp_path: Path, template_repo: Path
) -> None:
    from generator.copier_run import copying as copier_api
    from tests.app_world import APPS

    app = tmp_path / "portal"
    copier_api.copy(str(template_repo), app, {**APPS["portal"], "kind": "app"})
    doc = yaml.safe_load((app / ".gitea/workflows/cd.yml").read_text())
    steps = doc["jobs"]["test"]["steps"]
    names = [step["name"] for step in steps]
    assert names.index("Template check") < names.index("Test")
    assert doc["jobs"]["deploy"]["needs"] == "test"  # so the build runs only after the check
    setup, check_step = (
        steps[names.index("Template check") - 1],
        steps[names.index("Template check")],
    )
    assert setup["with"]["update-environment"] is False  # the app's own toolchain stays put
    assert check_step["run"].splitlines()[-1] == '"$venv/bin/gitops-onboard" check --offline .'
    assert check_step["env"]["CHECK_PYTHON"] == "${{ steps.check-python.outputs.python-path }}"
    answers = yaml.safe_load((app / ".copier-answers.yml").read_text())
    # The app check renders and diffs only: the bare package, without the `infra` extra.
    assert check_step["env"]["STAMPED_PIP"] == pip_requirement(
        answers["_src_path"], answers["_commit"]
    )
