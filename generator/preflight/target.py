"""Read the deploy job's target from an app repo's `.copier-answers.yml`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from generator import giturl, rules
from generator.errors import InputError
from generator.preflight.model import Target

__all__ = ["read_target"]

ANSWERS = ".copier-answers.yml"


def _text(answers: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = answers.get(name, default)
    if not isinstance(value, str) or not value:
        raise InputError(name, f"missing from {ANSWERS}; stamp the app repo again", value)
    return value


def read_target(app_repo: Path, env: Mapping[str, str]) -> Target:
    """The app's target; BUILDKIT_HOST in `env` wins over the answer, as in the job."""
    path = app_repo / ANSWERS
    try:
        answers = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            "APP_REPO", f"has no {ANSWERS}; run preflight in an app repo stamped by gitops-onboard"
        ) from None
    except yaml.YAMLError as error:
        raise InputError(ANSWERS, f"is not valid YAML ({type(error).__name__})") from None
    if not isinstance(answers, dict) or answers.get("kind") != "app":
        raise InputError("kind", f"{ANSWERS} is not an app repo's (kind: app)")
    infra_repo = _text(answers, "infra_repo")
    try:
        url = giturl.parse(infra_repo)
    except ValueError as error:
        raise InputError("infra_repo", str(error), infra_repo) from None
    port = answers.get("infra_ssh_port", url.port or 22)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InputError("infra_ssh_port", "must be a port from 1 to 65535", port)
    return Target(
        service=_text(answers, "service"),
        registry=_text(answers, "registry"),
        owner=_text(answers, "owner"),
        buildkit_host=env.get("BUILDKIT_HOST")
        or _text(answers, "buildkit_host", "unix:///run/buildkit/buildkitd.sock"),
        infra_repo=infra_repo,
        infra_branch=_text(answers, "infra_branch", "main"),
        infra_ssh_host=_text(answers, "infra_ssh_host", url.host or "localhost"),
        infra_ssh_port=port,
        deploy_cluster=_optional_cluster(answers),
    )


def _optional_cluster(answers: Mapping[str, Any]) -> str:
    value = answers.get("deploy_cluster") or ""
    if problem := rules.check(value, "optional_cluster"):
        raise InputError("deploy_cluster", problem, value)
    return str(value)
