"""The stamped cd.yml's `preflight` job: run by hand, it runs `gitops-onboard preflight` on
the deploy job's runner with the deploy job's secrets, and nothing else runs with it."""

from __future__ import annotations

import pytest

from tests.app_world import APPS, AppWorld
from tests.workflow_harness import load_workflow

SECRETS = ("REGISTRY_CREDS", "INFRA_DEPLOY_KEY", "INFRA_KNOWN_HOSTS")


@pytest.mark.parametrize("name", sorted(APPS))
def test_dispatch_runs_the_preflight_job_alone(app_world: AppWorld, name: str) -> None:
    workflow = load_workflow(app_world.ssh_apps[name] / ".gitea/workflows/cd.yml")
    jobs = workflow["jobs"]
    assert "workflow_dispatch" in workflow["on"]
    assert jobs["preflight"]["if"] == "github.event_name == 'workflow_dispatch'"
    assert jobs["test"]["if"] == "github.event_name != 'workflow_dispatch'"
    assert "github.event_name == 'push'" in jobs["deploy"]["if"]  # deploy needs test anyway
    assert jobs["preflight"]["runs-on"] == jobs["deploy"]["runs-on"]
    assert jobs["preflight"]["permissions"] == {"contents": "read"}


@pytest.mark.parametrize("name", sorted(APPS))
def test_preflight_gets_what_the_deploy_job_gets(app_world: AppWorld, name: str) -> None:
    jobs = load_workflow(app_world.ssh_apps[name] / ".gitea/workflows/cd.yml")["jobs"]
    (step,) = [s for s in jobs["preflight"]["steps"] if s.get("name") == "Preflight"]
    deploy_env = {
        key: value for s in jobs["deploy"]["steps"] for key, value in s.get("env", {}).items()
    }
    for secret in SECRETS:
        assert step["env"][secret] == f"${{{{ secrets.{secret} }}}}" == deploy_env[secret]
    assert step["env"]["BUILDKIT_HOST"] == deploy_env["BUILDKIT_HOST"]
    check = next(s for s in jobs["test"]["steps"] if s.get("name") == "Template check")
    assert step["env"]["STAMPED_PIP"] == check["env"]["STAMPED_PIP"]
    assert step["env"]["GITOPS_ONBOARD_PIP"] == "${{ vars.GITOPS_ONBOARD_PIP }}"
    script = step["run"]
    assert script.rstrip().endswith('"$venv/bin/gitops-onboard" preflight .')
    # No secret reaches a command line: the preflight reads them from its environment.
    assert not any(f"${secret}" in script or f"${{{secret}}}" in script for secret in SECRETS)
    checkout = jobs["preflight"]["steps"][0]
    assert checkout["with"] == {"persist-credentials": False}
