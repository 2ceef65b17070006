"""Entry point of the template's Copier `_tasks`: `python -m generator.tasks KIND ANSWERS_FILE`.

Runs in the destination folder after Copier rendered it. During `copier update`, Copier also
runs tasks inside its temporary renders of the old and new template versions (folders named
`copier._main.old_copy.*` / `new_copy.*`); those runs must not touch the real infra repo or
encrypt anything, so they do nothing.

Frozen public API: Copier runs this module with the Python of the gitops-onboard installed
next to it, for every template tag, so the command line `python -m generator.tasks KIND
ANSWERS_FILE` and the answers each released template records must keep working (see
`generator.template_api`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from generator import clusters, flux, pullsecret, secrets
from generator.app import workflow_dir_warning
from generator.errors import OnboardError
from generator.fsutil import confined
from generator.spec import AppSpec, InfraSpec, ServiceSpec

__all__ = ["in_copier_scratch_render", "main", "run_task"]

_SCRATCH = re.compile(r"^copier\.(_?main)\.(old|new)_copy\.")


def in_copier_scratch_render(folder: Path) -> bool:
    """True inside Copier's temporary old/new renders made during `copier update`."""
    return any(_SCRATCH.match(part.name) for part in (folder, *folder.parents))


def load_answers(path: Path) -> dict[str, Any]:
    """Read a Copier answers file the way Copier does (PyYAML, YAML 1.1).

    Copier writes answers with PyYAML; a YAML 1.2 reader would turn a recorded `1e3` or
    `0o17` string into a number.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise OnboardError(f"{path}: is not a Copier answers mapping")
    return data


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
        spec = ServiceSpec.from_answers(answers)
        root = clusters.find_infra_root(destination.parent)
        create = bool(answers.get("create_missing_clusters", False))
        registration = clusters.plan_reconcile(
            root, destination, spec.clusters, create_missing=create
        )
        missing = secrets.declared_but_missing(root, destination, spec.secret_keys)
        secret_changes, placeholders = secrets.plan_service_secrets(root, destination, spec)
        pull_changes = pullsecret.plan_for_service(root, destination, spec.image_pull_secret)
        written = clusters.apply([*secret_changes, *pull_changes, *registration])
        if placeholders or missing:
            keys = ", ".join(placeholders or missing)
            notes.append(
                f"apps/{spec.service}/{secrets.SECRETS_FILE}: no value yet for {keys}; set each "
                f"with `gitops-onboard secrets set {spec.service} KEY` (value on stdin)"
            )
        if pull_changes:
            notes.append(
                f"{pullsecret.FOLDER}/{spec.image_pull_secret}: placeholder without registry "
                "credentials; set them once with `gitops-onboard pull-secret set --name "
                f"{spec.image_pull_secret} --registry {spec.registry} --username USER`"
            )
        return written
    if kind == "infra":
        infra = InfraSpec.from_answers(answers)
        changes = [
            clusters.Change(
                path,
                None,
                clusters.new_cluster_text(
                    name, flux_system=clusters.flux_system_present(destination, name)
                ),
            )
            for name in infra.clusters
            if not (
                path := confined(destination, clusters.cluster_file(destination, name))
            ).exists()
        ]
        decryption = flux.plan_enable(destination, infra.clusters)
        return clusters.apply([*changes, *decryption.changes])
    if kind == "app":
        AppSpec.from_answers(answers)
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the task for the current folder; print one line and exit 2 on bad input."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m generator.tasks KIND ANSWERS_FILE", file=sys.stderr)
        return 2
    kind, answers_file = args
    destination = Path.cwd()
    if in_copier_scratch_render(destination):
        return 0
    from generator.cli import report_error

    notes: list[str] = []
    try:
        written = run_task(kind, destination, load_answers(destination / answers_file), notes)
    except OnboardError as error:
        return report_error(error)
    for path in written:
        print(f"gitops-onboard: updated {path}", file=sys.stderr)
    for note in notes:
        print(f"gitops-onboard: {note}", file=sys.stderr)
    if kind == "app" and (warning := workflow_dir_warning(destination)):
        print(f"gitops-onboard: warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
