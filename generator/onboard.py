"""Onboard, offboard and stamp infra repos: the orchestrators behind the CLI.

Each step is a small function: validate → plan → copy (Copier runs the registration task)
→ report. Nothing is written before every input has been validated, and a failure during
the copy leaves the infra repo as it was (Copier removes the new folder, the registration
restores the cluster files). `onboard_with_app` also stamps the app repo, after validating
both sides.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import clusters, copier_api, fsutil, rules, secrets, sources
from generator.app import prepare_app, stamp_app
from generator.errors import InputError
from generator.spec import InfraSpec, ServiceSpec

__all__ = [
    "Onboarded",
    "default_template",
    "init_infra",
    "offboard",
    "onboard_service",
    "onboard_with_app",
    "plan_offboard",
    "prepare_service",
]

ANSWERS_FILE = ".copier-answers.yml"


@dataclass(frozen=True)
class Onboarded:
    """What an onboarding made."""

    service_dir: Path
    files: tuple[Path, ...]
    clusters: tuple[str, ...]
    placeholders: tuple[str, ...] = ()


def _answers(path: Path) -> dict[str, Any]:
    # Imported here: `python -m generator.tasks` (Copier's task) must be able to import the
    # package without generator.tasks already loaded.
    from generator.tasks import load_answers

    if not path.is_file():
        return {}
    return load_answers(path)


def default_template(infra_root: Path) -> str | None:
    """The template the infra repo itself was stamped from, if recorded."""
    source = _answers(infra_root / ANSWERS_FILE).get("_src_path")
    return str(source) if source else None


def init_infra(
    destination: Path,
    cluster_names: list[str],
    template: str,
    *,
    vcs_ref: str | None = None,
    extra: Mapping[str, Any] | None = None,
    allow_sources: Sequence[str] = (),
) -> list[Path]:
    """Stamp an infra repo root (`kind=infra`) and create its cluster kustomizations.

    `template` is the user's choice and is recorded as the repo's allow-list, unless the
    repo already records one: then it must be on it (or among `allow_sources`).
    """
    data: dict[str, Any] = {**(extra or {}), "kind": "infra", "clusters": cluster_names}
    InfraSpec.from_answers(data)
    if (destination / ANSWERS_FILE).exists():
        raise InputError(
            "destination",
            f"{destination} is already stamped; run `copier update --trust {destination}`",
        )
    copier_api.copy(template, destination, data, vcs_ref=vcs_ref, allow_sources=allow_sources)
    return sorted(p for p in destination.rglob("*") if p.is_file() and ".git" not in p.parts)


@dataclass(frozen=True)
class PreparedService:
    """A validated infra-side onboarding, ready to write."""

    root: Path
    source: str
    service_dir: Path
    data: dict[str, Any]
    spec: ServiceSpec
    secret_file: tuple[clusters.Change, ...] = ()
    placeholders: tuple[str, ...] = ()
    allow_sources: tuple[str, ...] = ()


def prepare_service(
    infra_root: Path,
    answers: Mapping[str, Any],
    template: str | None = None,
    *,
    create_clusters: bool = False,
    secret_values: Mapping[str, str] | None = None,
    allow_sources: Sequence[str] = (),
) -> PreparedService:
    """Validate an infra-side onboarding and encrypt its secrets; write nothing.

    The template (`template`, else the one the root's answers file records) must be on the
    infra repo's allow-list or among `allow_sources`.
    """
    data: dict[str, Any] = {**answers, "kind": "service"}
    if create_clusters:
        data["create_missing_clusters"] = True
    spec = ServiceSpec.from_answers(data)
    root = clusters.find_infra_root(infra_root)
    source = template or default_template(root)
    if source is None:
        raise InputError(
            "template",
            f"{root / ANSWERS_FILE} records no template; pass --template (a git URL or path)",
        )
    where = "--template" if template else f"{root / ANSWERS_FILE} (_src_path)"
    sources.require_allowed(source, root, where=where, extra=allow_sources, stamping=True)
    service_dir = fsutil.confined(root, root / "apps" / spec.service)
    if service_dir.exists():
        raise InputError(
            "service",
            f"apps/{spec.service} already exists; to change it run "
            f"`copier update --trust apps/{spec.service}`",
            spec.service,
        )
    # Validate every cluster file now, so bad input fails before Copier writes anything.
    clusters.plan_reconcile(
        root, service_dir, spec.clusters, create_missing=bool(data.get("create_missing_clusters"))
    )
    if secret_values and not spec.secret_keys:
        raise InputError("secret values", "the service declares no secret_keys")
    # Encrypt first: a missing .sops.yaml or a bad value fails before anything is written,
    # and the Copier task then leaves the existing secrets.enc.yaml alone.
    secret_file, placeholders = secrets.plan_service_secrets(root, service_dir, spec, secret_values)
    return PreparedService(
        root,
        source,
        service_dir,
        data,
        spec,
        tuple(secret_file),
        tuple(placeholders),
        tuple(allow_sources),
    )


def _stamp_service(prepared: PreparedService, vcs_ref: str | None) -> Onboarded:
    service_dir = prepared.service_dir
    try:
        clusters.apply(list(prepared.secret_file))
        copier_api.copy(
            prepared.source,
            service_dir,
            prepared.data,
            vcs_ref=vcs_ref,
            allow_sources=prepared.allow_sources,
        )
    except BaseException:
        shutil.rmtree(service_dir, ignore_errors=True)
        raise
    files = tuple(sorted(p for p in service_dir.rglob("*") if p.is_file()))
    return Onboarded(service_dir, files, prepared.spec.clusters, prepared.placeholders)


def onboard_service(
    infra_root: Path,
    answers: Mapping[str, Any],
    template: str | None = None,
    *,
    vcs_ref: str | None = None,
    create_clusters: bool = False,
    secret_values: Mapping[str, str] | None = None,
    allow_sources: Sequence[str] = (),
) -> Onboarded:
    """Stamp `apps/<service>/` and register it in the clusters of its answers.

    `secret_values` (never from the command line) go into `secrets.enc.yaml`, encrypted
    before anything is written; keys without a value get a placeholder.
    """
    prepared = prepare_service(
        infra_root,
        answers,
        template,
        create_clusters=create_clusters,
        secret_values=secret_values,
        allow_sources=allow_sources,
    )
    return _stamp_service(prepared, vcs_ref)


def onboard_with_app(
    infra_root: Path,
    app_repo: Path,
    answers: Mapping[str, Any],
    template: str | None = None,
    *,
    vcs_ref: str | None = None,
    create_clusters: bool = False,
    secret_values: Mapping[str, str] | None = None,
    allow_sources: Sequence[str] = (),
) -> tuple[Onboarded, list[Path]]:
    """Onboard both sides: `apps/<service>/` in the infra repo and the app repo's CD files.

    Both sides are validated (and the secrets encrypted) before either is written.
    """
    service = prepare_service(
        infra_root,
        answers,
        template,
        create_clusters=create_clusters,
        secret_values=secret_values,
        allow_sources=allow_sources,
    )
    app = prepare_app(
        app_repo, answers, service.source, vcs_ref=vcs_ref, allow_sources=allow_sources
    )
    onboarded = _stamp_service(service, vcs_ref)
    return onboarded, stamp_app(app)


def plan_offboard(infra_root: Path, service: str) -> tuple[Path, list[clusters.Change]]:
    """What offboarding `service` would change: its folder and the cluster edits."""
    if problem := rules.dns1035_label(service):
        raise InputError("service", problem, service)
    root = clusters.find_infra_root(infra_root)
    service_dir = fsutil.confined(root, root / "apps" / service)
    changes = clusters.plan_unregister(root, service_dir)
    if not service_dir.exists() and not changes:
        raise InputError(
            "service", f"apps/{service} does not exist and no cluster lists it", service
        )
    return service_dir, changes


def offboard(infra_root: Path, service: str) -> tuple[Path, list[Path]]:
    """Unregister `service` from every cluster, then delete `apps/<service>/`."""
    service_dir, changes = plan_offboard(infra_root, service)
    written = clusters.apply(changes)
    if service_dir.exists():
        shutil.rmtree(service_dir)
    return service_dir, written
