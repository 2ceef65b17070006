"""Adopt a hand-written `apps/<service>/` folder: the template's files plus the rest in `local/`.

`plan_adoption` reads the folder (never writes it): it builds the folder and every cluster
that lists it with `kubectl kustomize`, infers the answers (`generator.adopt_infer`),
renders the template in a scratch copy of the repo that holds no plaintext secret value
(`generator.adopt_scratch`), and compares the two builds object by object
(`generator.adopt_diff`). What the template does not produce goes into the
service's own Component `local/`: objects it lacks as resources (a plaintext Secret
encrypted with the repo's `.sops.yaml` recipients, public keys only), objects it makes that
were not there as `$patch: delete` patches, and field differences as JSON 6902 patches.
The scratch copy is then built again, every cluster too, and whatever still differs is
listed in the plan. `adopt` plans again under the repo lock and replaces the folder in one
journaled change (`generator.adopt_write`); `finish_interrupted` finishes or rolls back one
that was killed.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator import (
    adopt_write,
    clusters,
    fsutil,
    interrupted,
    k8s_yaml,
    kubectl,
    kustomization,
    rules,
    sops,
    sources,
    walk,
)
from generator.adopt_diff import (
    Difference,
    compare,
    dump_yaml,
    is_encrypted,
    json_patch,
    key_of,
    redacted,
    without_secret_name_hashes,
)
from generator.adopt_infer import infer_answers
from generator.adopt_scratch import scratch_copy
from generator.answers import ANSWERS_FILE
from generator.copier_run import copying
from generator.errors import InputError, OnboardError
from generator.fsutil import LINK_RULE
from generator.infra_root import find_infra_root
from generator.ownership import LOCAL_COMPONENT
from generator.plan import overlays_wanted, plan_overlays
from generator.session import InterruptedChange, Session, writing
from generator.spec import ServiceSpec
from generator.transaction import Change, Journal, apply, read_journal

__all__ = ["AdoptPlan", "adopt", "finish_interrupted", "plan_adoption", "service_folder"]

_KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class AdoptPlan:
    """What adopting a folder writes, deletes, and what would still differ."""

    root: Path
    service: str
    answers: dict[str, Any]
    files: Mapping[str, str]
    changes: tuple[Change, ...]
    removed: tuple[Path, ...]
    template_differences: tuple[Difference, ...]
    moved: tuple[str, ...]
    encrypted: tuple[str, ...]
    differences: tuple[Difference, ...]


def _locate(infra: Path, folder: Path) -> tuple[Path, str]:
    """The infra root and the service name of `folder`; raise `InputError` for bad input."""
    root = find_infra_root(infra)
    path = folder if folder.is_absolute() else root / folder
    try:
        parts = path.resolve().relative_to(root.resolve()).parts
    except ValueError:
        parts = ()
    if len(parts) != 2 or parts[0] != "apps":
        raise InputError("folder", "must be a folder apps/<service> of the infra repo", str(folder))
    service = parts[1]
    if problem := rules.dns1035_label(service):
        raise InputError("service", problem, service)
    return root, service


def _refuse_interrupted(root: Path, service: str) -> None:
    """Refuse when an adoption of `service` stopped half-way (its folder may be elsewhere)."""
    journal = read_journal(root)
    if journal is not None and journal.service == service:
        raise InterruptedChange(interrupted.from_journal(journal, root).line())


def _refuse_links(root: Path, path: Path) -> None:
    """Every file and folder under `path` must be a real one: adopt replaces the whole folder."""
    for entry in walk.every_entry(path):
        where = entry.relative_to(root).as_posix()
        if entry.is_symlink():
            kind = "folder" if entry.is_dir() else "file"
            raise InputError(
                where, f"is a symbolic link; {LINK_RULE}, so replace it with a regular {kind}"
            )
        if entry.name in walk.SKIPPED_DIRS:
            raise InputError(
                where, "adopt replaces the whole folder; move this folder out of it first"
            )


def service_folder(infra: Path, folder: Path) -> tuple[Path, Path, str]:
    """The infra root, the folder and its service name; raise `InputError` for bad input."""
    root, service = _locate(infra, folder)
    _refuse_interrupted(root, service)
    path = fsutil.confined(root, root / "apps" / service)
    if (path / ANSWERS_FILE).exists():
        raise InputError(
            "folder",
            f"apps/{service} is already stamped ({ANSWERS_FILE}); change it with "
            f"`copier update --trust apps/{service}`",
        )
    found = [path / name for name in _KUSTOMIZATIONS if (path / name).is_file()]
    if not found:
        raise InputError(
            "folder", f"apps/{service} must be a kustomization (holds no kustomization.yaml)"
        )
    for side in adopt_write.side_folders(service):
        if os.path.lexists(root / side):
            raise InputError(
                side,
                "is where adopt writes; it is left from an adoption whose journal is gone: "
                "look at it, then remove it",
            )
    _refuse_links(path.parent.parent, path)
    _require_kustomization(found[0], f"apps/{service}/{found[0].name}")
    return root, path, service


def _require_kustomization(path: Path, where: str) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(where, f"must be a readable kustomization ({error})") from None
    kustomization.validate(text, where)
    kind = (yaml.safe_load(text) or {}).get("kind", "Kustomization")
    if kind != "Kustomization":
        raise InputError(where, "must be a kustomization (kind: Kustomization)", kind)


def _file_name(obj: Mapping[str, Any], prefix: str = "") -> str:
    kind = str(obj.get("kind", "object")).lower()
    name = str((obj.get("metadata") or {}).get("name", "unnamed"))
    return f"{prefix}{kind}-{name}.yaml"


def _target(obj: Mapping[str, Any]) -> dict[str, str]:
    return {"kind": str(obj.get("kind", "")), "name": str(obj["metadata"]["name"])}


def _component(
    root: Path,
    service: str,
    before: Sequence[Mapping[str, Any]],
    template: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, str], list[str], list[str]]:
    """The files of `local/` that turn the template's build into `before`.

    Returns the files (name → text), the objects moved, the Secrets encrypted.
    """
    old = {key_of(obj): obj for obj in before}
    new = {key_of(obj): obj for obj in template}
    files: dict[str, str] = {}
    resources: list[str] = []
    patches: list[dict[str, Any]] = []
    moved: list[str] = []
    encrypted: list[str] = []
    for key in sorted(old.keys() - new.keys()):
        obj = old[key]
        moved.append(f"{key[1]} {key[3]}")
        if obj.get("kind") == "Secret":
            name = _file_name(obj).removesuffix(".yaml") + ".enc.yaml"
            text = dump_yaml(obj)
            if not is_encrypted(obj):
                _refuse_values_in_metadata(obj)
                relative = f"apps/{service}/{LOCAL_COMPONENT}/{name}"
                text = sops.encrypt(text, root=root, filename=relative)
                encrypted.append(str(obj["metadata"]["name"]))
        else:
            name, text = _file_name(obj), dump_yaml(obj)
        files[name] = text
        resources.append(name)
    for key in sorted(new.keys() - old.keys()):
        obj = new[key]
        name = _file_name(obj, "delete-")
        files[name] = dump_yaml(
            {
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "metadata": {"name": obj["metadata"]["name"]},
                "$patch": "delete",
            }
        )
        patches.append({"path": name})
    for key in sorted(old.keys() & new.keys()):
        ops = json_patch(new[key], old[key])
        if ops:
            name = _file_name(new[key], "patch-")
            files[name] = dump_yaml(ops)
            patches.append({"path": name, "target": _target(new[key])})
    body: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "resources": resources,
    }
    if patches:
        body["patches"] = patches
    files["kustomization.yaml"] = (
        "# This Component is yours (see the stamped template's comment in other services).\n"
        "# `gitops-onboard adopt` wrote it: the objects of the hand-written folder the template\n"
        "# does not make, and patches that keep the template's objects as they were.\n"
        + dump_yaml(body)
    )
    return files, moved, encrypted


def _secret_values(obj: Mapping[str, Any]) -> set[str]:
    """A plaintext Secret's values as written, and `data` decoded where it is text."""
    values = {str(v) for v in (obj.get("stringData") or {}).values()}
    for raw in (obj.get("data") or {}).values():
        values.add(str(raw))
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            values.add(base64.b64decode(str(raw), validate=True).decode("utf-8"))
    return {value for value in values if len(value) >= 4}


def _refuse_values_in_metadata(obj: Mapping[str, Any]) -> None:
    """Refuse a value in metadata: sops encrypts `data` and `stringData` only."""
    values = _secret_values(obj)
    metadata = obj.get("metadata") or {}
    for field in ("annotations", "labels"):
        for key, text in (metadata.get(field) or {}).items():
            if any(value in str(text) for value in values):
                raise InputError(
                    f"Secret {metadata.get('name')}",
                    f"metadata.{field}.{key} holds a value of the Secret in the clear (sops "
                    "encrypts only data and stringData); remove it from the hand-written "
                    "Secret before adopting",
                )


def _decrypted_differences(
    before: Sequence[Mapping[str, Any]], files: Mapping[str, str]
) -> list[Difference]:
    """Each Secret encrypted on the way in, decrypted in memory and compared value by value.

    Only where a private key is at hand; without one, Secrets compare by key names.
    """
    plain = {key_of(obj): obj for obj in before if obj.get("kind") == "Secret"}
    found: list[Difference] = []
    for name, text in files.items():
        if not name.endswith(".enc.yaml"):
            continue
        try:
            docs = k8s_yaml.load_all(sops.decrypt_text(text, subject=name))
        except sops.SopsError as error:
            if error.reason in ("no-private-key", "wrong-key"):
                return []
            raise
        first = docs[0] if docs and isinstance(docs[0], dict) else {}
        obj = {k: v for k, v in first.items() if k != "sops"}
        old = plain.get(key_of(obj))
        if old is not None and not is_encrypted(old):
            found += [
                Difference(key_of(obj), f"{op['op']} {op['path']} (decrypted)")
                for op in json_patch(dict(old), obj)
            ]
    return found


def _build(folder: Path) -> list[dict[str, Any]]:
    return kubectl.kustomize_build(folder)


def _keys_only(objects: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    named = without_secret_name_hashes(objects)
    return [redacted(obj) if obj.get("kind") == "Secret" else obj for obj in named]


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def plan_adoption(
    infra: Path,
    folder: Path,
    template: str | None = None,
    *,
    vcs_ref: str | None = None,
    allow_sources: Sequence[str] = (),
) -> AdoptPlan:
    """Plan the adoption of `folder` (`apps/<service>`); write nothing in the infra repo."""
    root, service_dir, service = service_folder(infra, folder)
    listed = clusters.registered_clusters(root, service_dir)
    if not listed:
        raise InputError(
            "clusters",
            f"no clusters/<c>/kustomization.yaml lists apps/{service}; adopt a deployed service",
        )
    source = sources.root_template(root, template, extra=allow_sources)
    before = _build(service_dir)
    before_clusters = {c: _build(clusters.cluster_file(root, c).parent) for c in listed}
    answers = infer_answers(service, before, listed)
    spec = ServiceSpec.from_answers({**answers, "kind": "service"})
    with tempfile.TemporaryDirectory(prefix="gitops-onboard-adopt-") as tmp:
        scratch = scratch_copy(root, Path(tmp), leave_out=service_dir)
        scratch_dir = scratch / "apps" / service
        copying.copy(
            source,
            scratch_dir,
            {**answers, "kind": "service"},
            vcs_ref=vcs_ref,
            allow_sources=allow_sources,
            skip_tasks=True,
            allowed_at=root,
        )
        layered = overlays_wanted(spec, _read(scratch_dir / "kustomization.yaml"))
        if layered:
            # What the template's task adds for a service on several clusters.
            apply(plan_overlays(scratch_dir, spec))
            apply(clusters.plan_reconcile(scratch, scratch_dir, spec.clusters, overlays=True))
        rendered = _build(scratch_dir)
        template_differences = compare(before, rendered)
        files, moved, encrypted = _component(root, service, before, rendered)
        local = scratch_dir / LOCAL_COMPONENT
        shutil.rmtree(local, ignore_errors=True)
        local.mkdir()
        for name, text in files.items():
            (local / name).write_text(text, encoding="utf-8")
        differences = compare(before, _build(scratch_dir))
        differences += _decrypted_differences(before, files)
        for cluster, objects in before_clusters.items():
            # Secrets by key names: the scratch copy holds no secret value (adopt_scratch).
            after = _build(clusters.cluster_file(scratch, cluster).parent)
            differences += compare(_keys_only(objects), _keys_only(after), cluster)
        new_files = {
            p.relative_to(scratch_dir): p.read_text(encoding="utf-8")
            for p in walk.repo_files(scratch_dir)
        }
        files = {rel.as_posix(): text for rel, text in new_files.items()}
    changes = tuple(
        Change(service_dir / rel, _read(service_dir / rel), text)
        for rel, text in new_files.items()
        if _read(service_dir / rel) != text
    )
    if layered:
        changes += tuple(clusters.plan_reconcile(root, service_dir, spec.clusters, overlays=True))
    removed = tuple(
        p for p in walk.repo_files(service_dir) if p.relative_to(service_dir) not in new_files
    )
    return AdoptPlan(
        root,
        service,
        answers,
        files,
        changes,
        removed,
        tuple(template_differences),
        tuple(moved),
        tuple(encrypted),
        tuple(differences),
    )


def adopt(
    infra: Path,
    folder: Path,
    template: str | None = None,
    *,
    vcs_ref: str | None = None,
    allow_sources: Sequence[str] = (),
    accept_differences: bool = False,
) -> AdoptPlan:
    """Plan under the repo lock, then replace the folder by the plan's (`adopt_write`).

    Refuses (`InputError`, nothing written) when a difference remains and
    `accept_differences` is not set.
    """
    root, service = _locate(infra, folder)
    _refuse_interrupted(root, service)
    with writing(root, f"gitops-onboard adopt apps/{service}", service=service) as session:
        plan = plan_adoption(root, folder, template, vcs_ref=vcs_ref, allow_sources=allow_sources)
        if plan.differences and not accept_differences:
            raise InputError(
                "--accept-differences",
                f"the built output would change in {len(plan.differences)} place(s) "
                "(listed by a dry run); pass it to adopt anyway",
            )
        session.begin(
            "adopt",
            service,
            adopt_write.entries(
                root,
                service,
                plan.files,
                [c for c in plan.changes if not c.path.is_relative_to(root / "apps" / service)],
            ),
            created=adopt_write.side_folders(service),
            onboarding=False,
        )
        try:
            adopt_write.write(root, _journal_of(session))
        except adopt_write.WriteFailed:
            session.end()  # the new folder is gone again: nothing changed
            raise
        session.end()
    return plan


def _journal_of(session: Session) -> Journal:
    journal = read_journal(session.root)
    if journal is None:  # pragma: no cover - begin() has just written it
        raise OnboardError(f"{session.root}: the adoption's journal vanished")
    return journal


def finish_interrupted(infra: Path, folder: Path, *, roll_back: bool = False) -> str:
    """Finish (or roll back) the interrupted adoption of `folder`; return the service."""
    root, service = _locate(infra, folder)
    option = "--rollback" if roll_back else "--resume"
    command = f"gitops-onboard adopt apps/{service} {option}"

    def accepts(journal: Journal) -> bool:
        return journal.kind == "adopt" and journal.service == service

    with writing(root, command, service=service, accepts=accepts) as session:
        journal = session.journal
        if journal is None:
            raise InputError(option, f"apps/{service} has no interrupted adoption", service)
        if roll_back and not adopt_write.can_roll_back(root, journal):
            raise InputError(
                option,
                "the hand-written files are already being deleted; finish it with "
                f"`{journal.finish_command()}`",
                service,
            )
        if roll_back:
            adopt_write.roll_back(root, journal)
        else:
            adopt_write.finish(root, journal)
        session.end()
    return service
