"""Finish an interrupted onboarding: `gitops-onboard onboard --resume <service>`.

The answers come from the journal (the command line's onboarding records them) or from the
service's own answers file (Copier writes it while it renders). Resuming renders again, in a
scratch folder, at the recorded template version, and copies every file that is missing or
empty; writes back the files the journal recorded (its encrypted secrets hold the values the
user gave); then plans the service as an onboarding does and writes what is still missing.
Each step can be repeated, so a resume that is itself interrupted is resumed again.
Undoing is `offboard` (`generator.onboard.offboard`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from generator import interrupted, rules
from generator.answers import ANSWERS_FILE, load_answers
from generator.copier_run import copying
from generator.errors import InputError
from generator.fsutil import write_atomic
from generator.infra_root import find_infra_root
from generator.onboard import Onboarded, onboarded_result
from generator.plan import plan_service
from generator.session import Session, writing
from generator.spec import ServiceSpec
from generator.transaction import (
    Change,
    Journal,
    JournalEntry,
    apply,
    entries_of,
    remove_strays,
)

__all__ = ["resume_service"]


def _recorded(folder: Path, journal: Journal | None) -> tuple[str, str | None, dict[str, Any]]:
    """Template, version and answers of the onboarding to finish."""
    answers_path = folder / ANSWERS_FILE
    problem = interrupted.answers_problem(answers_path) if answers_path.exists() else "is missing"
    recorded = load_answers(answers_path) if problem is None else {}
    if journal is not None and journal.copier.get("data"):
        copier = journal.copier
        version = recorded.get("_commit") or copier.get("vcs_ref")
        return str(copier["template"]), version, dict(copier["data"])
    if problem is not None:
        raise InputError(
            "--resume",
            f"apps/{folder.name}/{ANSWERS_FILE} {problem} and no journal records the answers; "
            f"undo it with `gitops-onboard offboard {folder.name}` and onboard it again",
            folder.name,
        )
    data = {k: v for k, v in recorded.items() if not str(k).startswith("_")}
    version = recorded.get("_commit")
    return str(recorded["_src_path"]), str(version) if version else None, data


def _render_missing(
    folder: Path, source: str, vcs_ref: str | None, data: Mapping[str, Any]
) -> list[Path]:
    """Render into a scratch folder; copy each file that is missing, empty or unusable."""
    written = []
    with tempfile.TemporaryDirectory(prefix="gitops-onboard-resume.") as scratch:
        rendered = Path(scratch) / folder.name
        copying.copy(source, rendered, data, vcs_ref=vcs_ref, skip_tasks=True, allowed_at=folder)
        for path in sorted(p for p in rendered.rglob("*") if p.is_file()):
            target = folder / path.relative_to(rendered)
            usable = target.is_file() and target.stat().st_size > 0
            if usable and target.name == ANSWERS_FILE:
                usable = interrupted.answers_problem(target) is None
            if not usable:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(target, path.read_text(encoding="utf-8"))
                shutil.copymode(path, target)
                written.append(target)
    return written


def _restore_created(root: Path, journal: Journal | None) -> list[Path]:
    """Write back each file the journal created that is not there (e.g. the secrets)."""
    if journal is None:
        return []
    missing = [
        Change(root / entry.path, None, entry.new)
        for entry in journal.entries
        if entry.old is None and not (root / entry.path).exists()
    ]
    return apply(missing)


def _merged(
    old: tuple[JournalEntry, ...], new: tuple[JournalEntry, ...]
) -> tuple[JournalEntry, ...]:
    """The interrupted journal's entries, then the new plan's for other files."""
    seen = {entry.path for entry in old}
    return (*old, *(entry for entry in new if entry.path not in seen))


def _accepts(service: str) -> Callable[[Journal], bool]:
    def accepts(journal: Journal) -> bool:
        return journal.service == service and journal.kind in ("onboard", "task")

    return accepts


def _finish(session: Session, service: str) -> Onboarded:
    root = session.root
    folder = root / "apps" / service
    previous = session.journal
    if previous is None:
        found = interrupted.examine(root, folder) if folder.is_dir() else None
        if found is None:
            raise InputError(
                "--resume",
                f"apps/{service} is not an interrupted onboarding; nothing to finish",
                service,
            )
        if found.finish is None:
            raise InputError("--resume", found.line(), service)
    source, vcs_ref, data = _recorded(folder, previous)
    spec = ServiceSpec.from_answers(data)
    if previous is not None:
        remove_strays(root, previous.entries)
    _restore_created(root, previous)
    plan = plan_service(
        root, folder, spec, create_missing=bool(data.get("create_missing_clusters"))
    )
    session.begin(
        "onboard",
        service,
        _merged(previous.entries if previous else (), entries_of(root, plan.changes)),
        created=previous.created if previous else (f"apps/{service}",),
        onboarding=previous.onboarding if previous else True,
        copier={"template": source, "vcs_ref": vcs_ref, "data": data},
    )
    _render_missing(folder, source, vcs_ref, data)
    apply(plan.changes)
    session.end()
    return onboarded_result(plan)


def resume_service(infra_root: Path, service: str) -> Onboarded:
    """Finish the interrupted onboarding of `service` in the infra repo at `infra_root`."""
    if problem := rules.dns1035_label(service):
        raise InputError("--resume", problem, service)
    root = find_infra_root(infra_root)
    command = f"gitops-onboard onboard --resume {service}"
    with writing(root, command, service=service, accepts=_accepts(service)) as session:
        return _finish(session, service)
