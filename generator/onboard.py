"""Onboard, offboard and stamp infra repos: the orchestrators behind the CLI.

Each step is a small function: validate and plan everything (`generator.plan`, the same
plan Copier's task makes) → journal → render with Copier → write the plan → report. Each
runs holding the infra repo's lock (`generator.session`). Nothing is written before every
input has been validated; a failure during the copy leaves the infra repo as it was, and a
kill leaves a journal that `resume_service` finishes and `offboard` undoes.
`onboard_with_app` also stamps the app repo, after validating both sides.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import clusters, fsutil, interrupted, rules, sources, transaction
from generator.answers import ANSWERS_FILE
from generator.app import prepare_app, stamp_app
from generator.copier_run import copying
from generator.errors import InputError
from generator.infra_root import find_infra_root
from generator.lock import repo_lock
from generator.plan import ServicePlan, plan_service
from generator.session import Session, writing
from generator.spec import InfraSpec, ServiceSpec
from generator.transaction import (
    Journal,
    apply,
    entries_of,
    remove_empty_dirs,
    rollback,
)

__all__ = [
    "Onboarded",
    "init_infra",
    "offboard",
    "onboard_service",
    "onboard_with_app",
    "onboarded_result",
    "plan_offboard",
    "prepare_service",
]


@dataclass(frozen=True)
class Onboarded:
    """What an onboarding made."""

    service_dir: Path
    files: tuple[Path, ...]
    clusters: tuple[str, ...]
    placeholders: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


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
    copying.copy(template, destination, data, vcs_ref=vcs_ref, allow_sources=allow_sources)
    return sorted(p for p in destination.rglob("*") if p.is_file() and ".git" not in p.parts)


@dataclass(frozen=True)
class PreparedService:
    """A validated infra-side onboarding, ready to write."""

    root: Path
    source: str
    service_dir: Path
    data: dict[str, Any]
    spec: ServiceSpec
    plan: ServicePlan
    allow_sources: tuple[str, ...] = ()


def _refuse_existing(root: Path, service_dir: Path, service: str) -> None:
    if found := interrupted.examine(root, service_dir):
        raise InputError("service", found.line(), service)
    raise InputError(
        "service",
        f"apps/{service} already exists; to change it run `copier update --trust apps/{service}`",
        service,
    )


def prepare_service(
    infra_root: Path,
    answers: Mapping[str, Any],
    template: str | None = None,
    *,
    create_clusters: bool = False,
    secret_values: Mapping[str, str] | None = None,
    allow_sources: Sequence[str] = (),
) -> PreparedService:
    """Validate an infra-side onboarding and plan all of it (secrets encrypted); write nothing.

    The plan is the one Copier's task would make, so whatever the task would refuse (a
    missing `.sops.yaml` for the pull secret, a bad cluster file) is refused here. The
    template (`template`, else the one the root's answers file records) must be on the infra
    repo's allow-list or among `allow_sources`.
    """
    data: dict[str, Any] = {**answers, "kind": "service"}
    if create_clusters:
        data["create_missing_clusters"] = True
    spec = ServiceSpec.from_answers(data)
    root = find_infra_root(infra_root)
    source = sources.root_template(root, template, extra=allow_sources, stamping=True)
    service_dir = fsutil.confined(root, root / "apps" / spec.service)
    if service_dir.exists():
        _refuse_existing(root, service_dir, spec.service)
    plan = plan_service(
        root,
        service_dir,
        spec,
        values=secret_values,
        create_missing=bool(data.get("create_missing_clusters")),
    )
    return PreparedService(root, source, service_dir, data, spec, plan, tuple(allow_sources))


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _stamp_service(prepared: PreparedService, vcs_ref: str | None, session: Session) -> Onboarded:
    """Journal, render (Copier, without its task), then write the plan; undo on failure."""
    root, service_dir = prepared.root, prepared.service_dir
    created = [_relative(root, service_dir)]
    if not service_dir.parent.exists():
        created.append(_relative(root, service_dir.parent))
    session.begin(
        "onboard",
        prepared.spec.service,
        entries_of(root, prepared.plan.changes),
        created=tuple(created),
        copier={"template": prepared.source, "vcs_ref": vcs_ref, "data": prepared.data},
    )
    try:
        copying.copy(
            prepared.source,
            service_dir,
            prepared.data,
            vcs_ref=vcs_ref,
            allow_sources=prepared.allow_sources,
            skip_tasks=True,
        )
        apply(prepared.plan.changes)
    except BaseException:
        shutil.rmtree(service_dir, ignore_errors=True)
        remove_empty_dirs(service_dir.parent, stop=root)
        session.end()
        raise
    session.end()
    return onboarded_result(prepared.plan)


def onboarded_result(plan: ServicePlan) -> Onboarded:
    """What a written plan made, for the report."""
    service_dir = plan.service_dir
    files = tuple(sorted(p for p in service_dir.rglob("*") if p.is_file()))
    notes = tuple(note for note in plan.notes() if not note.startswith("apps/"))
    return Onboarded(service_dir, files, plan.spec.clusters, plan.placeholders, notes)


def _command(answers: Mapping[str, Any]) -> str:
    return f"gitops-onboard onboard {answers.get('service', '')}".rstrip()


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
    root = find_infra_root(infra_root)
    service = str(answers.get("service", "")) or None
    with writing(root, _command(answers), service=service) as session:
        prepared = prepare_service(
            root,
            answers,
            template,
            create_clusters=create_clusters,
            secret_values=secret_values,
            allow_sources=allow_sources,
        )
        return _stamp_service(prepared, vcs_ref, session)


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

    Both sides are validated (and the secrets encrypted) before either is written; each
    repo's lock is held while it is written.
    """
    root = find_infra_root(infra_root)
    service = str(answers.get("service", "")) or None
    with writing(root, _command(answers), service=service) as session:
        prepared = prepare_service(
            root,
            answers,
            template,
            create_clusters=create_clusters,
            secret_values=secret_values,
            allow_sources=allow_sources,
        )
        app = prepare_app(
            app_repo, answers, prepared.source, vcs_ref=vcs_ref, allow_sources=allow_sources
        )
        with repo_lock(app.repo, _command(answers)):
            onboarded = _stamp_service(prepared, vcs_ref, session)
            return onboarded, stamp_app(app)


def _check_service(service: str) -> None:
    if problem := rules.dns1035_label(service):
        raise InputError("service", problem, service)


def plan_offboard(infra_root: Path, service: str) -> tuple[Path, list[transaction.Change]]:
    """What offboarding `service` would change: its folder and the cluster edits."""
    _check_service(service)
    root = find_infra_root(infra_root)
    service_dir = fsutil.confined(root, root / "apps" / service)
    changes = clusters.plan_unregister(root, service_dir)
    if not service_dir.exists() and not changes:
        raise InputError(
            "service", f"apps/{service} does not exist and no cluster lists it", service
        )
    return service_dir, changes


def _finishes_or_undoes(service: str) -> Callable[[Journal], bool]:
    def accepts(journal: Journal) -> bool:
        return journal.service == service and (
            journal.kind == "offboard"
            or (journal.kind != "adopt" and journal.undo_command() is not None)
        )

    return accepts


def offboard(infra_root: Path, service: str) -> tuple[Path, list[Path]]:
    """Unregister `service` from every cluster, then delete `apps/<service>/`.

    An interrupted onboarding of `service` is undone exactly: the files it created (the
    pull secret too) are deleted and the files it changed get their old text back. An
    interrupted offboarding is finished.
    """
    _check_service(service)
    root = find_infra_root(infra_root)
    command = f"gitops-onboard offboard {service}"
    with writing(root, command, service=service, accepts=_finishes_or_undoes(service)) as session:
        undone: list[Path] = []
        if session.journal is None:
            service_dir, changes = plan_offboard(root, service)
        else:
            if session.journal.kind != "offboard":
                undone = rollback(root, session.journal.entries)
            service_dir = fsutil.confined(root, root / "apps" / service)
            changes = clusters.plan_unregister(root, service_dir)
        session.begin("offboard", service, entries_of(root, changes))
        written = apply(changes)
        if service_dir.exists():
            shutil.rmtree(service_dir)
        remove_empty_dirs(service_dir.parent, stop=root)
        session.end()
    return service_dir, [*undone, *written]
