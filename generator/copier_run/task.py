"""The work of the template's Copier task: what Jinja cannot do for a stamped destination.

`gitops-onboard _task KIND ANSWERS_FILE` (and `python -m generator.tasks`, the entry point
of released templates) runs it in the destination folder after Copier rendered it. It writes
the plan of `generator.plan` (the one `gitops-onboard onboard` checks before Copier starts)
while it holds the infra repo's lock; a command that runs Copier while holding that lock
hands it down to this process (see `generator.lock`). A service's plan is journaled, so a
kill half-way is found by the next command. During `copier update`, Copier also runs tasks
inside its temporary renders of the old and new template versions (see
`generator.copier_run.scratch`); those runs must not touch the real infra repo or encrypt
anything, so they do nothing.

The answers each released template records must keep working (see `generator.template_api`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator import clusters, infra_root
from generator.plan import plan_infra, plan_service
from generator.session import writing
from generator.spec import AppSpec, InfraSpec, ServiceSpec
from generator.transaction import apply, entries_of

__all__ = ["run_task"]


def _service_task(destination: Path, answers: dict[str, Any], notes: list[str]) -> list[Path]:
    spec = ServiceSpec.from_answers(answers)
    root = infra_root.find_infra_root(destination.parent)
    command = f"copier task of apps/{spec.service}"
    with writing(root, command, service=spec.service) as session:
        onboarding = not clusters.registered_clusters(root, destination)
        plan = plan_service(
            root,
            destination,
            spec,
            create_missing=bool(answers.get("create_missing_clusters", False)),
        )
        notes.extend(plan.notes())
        if not plan.changes:
            return []
        session.begin("task", spec.service, entries_of(root, plan.changes), onboarding=onboarding)
        written = apply(plan.changes)
        session.end()
        return written


def run_task(
    kind: str, destination: Path, answers: dict[str, Any], notes: list[str] | None = None
) -> list[Path]:
    """Do the work Jinja cannot for one stamped destination; return the files written.

    Secrets are created only when missing (encrypted with the public keys of `.sops.yaml`),
    so `copier update` never touches an existing `secrets.enc.yaml`. `notes` collects what
    the user still has to do.
    """
    notes = [] if notes is None else notes
    if kind == "service":
        return _service_task(destination, answers, notes)
    if kind == "infra":
        infra = InfraSpec.from_answers(answers)
        with writing(destination, "copier task of the infra repo"):
            return apply(plan_infra(destination, infra))
    if kind == "app":
        AppSpec.from_answers(answers)
    return []
