"""Stamp an app repo (`kind=app`): Dockerfile, .dockerignore and the CD workflow.

`prepare_app` validates everything and writes nothing; `stamp_app` then runs the Copier copy.
`gitops-onboard onboard --app-repo` prepares both sides before it writes either.

Example::

    prepared = prepare_app(Path("../web"), answers, "gh:platform/gitops-onboard")
    stamp_app(prepared)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import rules
from generator.answers import ANSWERS_FILE
from generator.copier_run import copying
from generator.errors import InputError
from generator.fsutil import confined
from generator.spec import AppSpec

__all__ = [
    "STAMPED",
    "PreparedApp",
    "app_answers",
    "prepare_app",
    "stamp_app",
    "workflow_dir_warning",
]

# What the app template writes; an app repo that has any of them is stamped already.
STAMPED = ("Dockerfile", ".dockerignore", ".gitea/workflows/cd.yml", ANSWERS_FILE)


@dataclass(frozen=True)
class PreparedApp:
    """A validated app-side copy, ready to write."""

    repo: Path
    template: str
    vcs_ref: str | None
    data: dict[str, Any]
    spec: AppSpec
    allow_sources: tuple[str, ...] = ()


def app_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers of a whole onboarding as the app side takes them.

    The state directory defaults to the infra side's volume mount path.
    """
    data: dict[str, Any] = {**answers, "kind": "app"}
    volume = data.get("volume_type", "none") or "none"
    if "state_dir" not in data and volume != "none" and data.get("volume_mount_path"):
        data["state_dir"] = data["volume_mount_path"]
    return data


def _check_deploy_cluster(data: Mapping[str, Any]) -> None:
    """With the service's clusters at hand, CD must deploy to one of them."""
    chosen, clusters = data.get("deploy_cluster"), data.get("clusters")
    if problem := rules.check(chosen, "optional_cluster"):
        raise InputError("deploy_cluster", problem, chosen)
    if chosen and isinstance(clusters, list) and chosen not in clusters:
        names = ", ".join(str(name) for name in clusters)
        raise InputError(
            "deploy_cluster", f"must be one of the clusters of the service: {names}", chosen
        )


def prepare_app(
    repo: Path,
    answers: Mapping[str, Any],
    template: str,
    *,
    vcs_ref: str | None = None,
    allow_sources: Sequence[str] = (),
) -> PreparedApp:
    """Validate the app side of an onboarding without writing anything."""
    if not repo.is_dir():
        raise InputError("--app-repo", "must be an existing folder (the app repo)", str(repo))
    present = [name for name in STAMPED if confined(repo, repo / name).exists()]
    if present:
        raise InputError(
            "--app-repo",
            f"{repo} already has {', '.join(present)}; to refresh a stamped app repo run "
            f"`copier update --trust` there",
        )
    data = app_answers(answers)
    _check_deploy_cluster(data)
    if not data.get("infra_repo"):
        raise InputError("infra_repo", "is required for the app side (the infra repo's SSH URL)")
    resolved = copying.resolve_answers(
        template, repo, data, vcs_ref=vcs_ref, allow_sources=allow_sources
    )
    spec = AppSpec.from_answers(resolved)
    return PreparedApp(repo, template, vcs_ref, data, spec, tuple(allow_sources))


def stamp_app(prepared: PreparedApp) -> list[Path]:
    """Write the app side; return the files made."""
    copying.copy(
        prepared.template,
        prepared.repo,
        prepared.data,
        vcs_ref=prepared.vcs_ref,
        allow_sources=prepared.allow_sources,
    )
    return [prepared.repo / name for name in STAMPED if (prepared.repo / name).exists()]


def workflow_dir_warning(repo: Path) -> str | None:
    """A warning when `.github/workflows` holds workflows Gitea will no longer run."""
    github = repo / ".github" / "workflows"
    if not github.is_dir():
        return None
    names = sorted(p.name for p in github.iterdir() if p.suffix in (".yml", ".yaml"))
    if not names:
        return None
    return (
        f"{github} has {', '.join(names)}: Gitea runs the workflows of .gitea/workflows "
        "and ignores .github/workflows once .gitea/workflows exists; move them to "
        ".gitea/workflows to keep them running"
    )
