"""Adopt a hand-written `apps/<service>/` folder: the template's files plus the rest in `local/`.

`plan_adoption` reads the folder (never writes it): it builds the folder and every cluster
that lists it with `kubectl kustomize`, infers the answers (`generator.adopt_infer`),
renders the template in a scratch copy of the repo, and compares the two builds object by
object (`generator.adopt_diff`). What the template does not produce goes into the
service's own Component `local/`: objects it lacks as resources (a plaintext Secret
encrypted with the repo's `.sops.yaml` recipients, public keys only), objects it makes that
were not there as `$patch: delete` patches, and field differences as JSON 6902 patches.
The scratch copy is then built again, every cluster too, and whatever still differs is
listed in the plan. `adopt` plans again under the repo lock and writes all files at once.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator import clusters, fsutil, kubectl, kustomization, rules, sops, sources, walk
from generator.adopt_diff import (
    Difference,
    compare,
    dump_yaml,
    is_encrypted,
    json_patch,
    key_of,
)
from generator.adopt_infer import infer_answers
from generator.answers import ANSWERS_FILE
from generator.copier_run import copying
from generator.errors import InputError
from generator.infra_root import find_infra_root
from generator.onboard import default_template
from generator.ownership import LOCAL_COMPONENT
from generator.plan import overlays_wanted, plan_overlays
from generator.session import writing
from generator.spec import ServiceSpec
from generator.transaction import Change, apply

__all__ = ["AdoptPlan", "adopt", "plan_adoption", "service_folder"]

_KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class AdoptPlan:
    """What adopting a folder writes, deletes, and what would still differ."""

    root: Path
    service: str
    answers: dict[str, Any]
    changes: tuple[Change, ...]
    removed: tuple[Path, ...]
    template_differences: tuple[Difference, ...]
    moved: tuple[str, ...]
    encrypted: tuple[str, ...]
    differences: tuple[Difference, ...]


def service_folder(infra: Path, folder: Path) -> tuple[Path, Path, str]:
    """The infra root, the folder and its service name; raise `InputError` for bad input."""
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


def _build(folder: Path) -> list[dict[str, Any]]:
    return kubectl.kustomize_build(folder)


def _scratch_copy(root: Path, into: Path) -> Path:
    scratch = into / "infra"
    shutil.copytree(root, scratch, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    return scratch


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
    source = template or default_template(root)
    if source is None:
        raise InputError(
            "template",
            f"{root / ANSWERS_FILE} records no template; pass --template (a git URL or path)",
        )
    where = "--template" if template else f"{root / ANSWERS_FILE} (_src_path)"
    sources.require_allowed(source, root, where=where, extra=allow_sources)
    before = _build(service_dir)
    before_clusters = {c: _build(clusters.cluster_file(root, c).parent) for c in listed}
    answers = infer_answers(service, before, listed)
    spec = ServiceSpec.from_answers({**answers, "kind": "service"})
    with tempfile.TemporaryDirectory(prefix="gitops-onboard-adopt-") as tmp:
        scratch = _scratch_copy(root, Path(tmp))
        scratch_dir = scratch / "apps" / service
        shutil.rmtree(scratch_dir)
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
        for cluster, objects in before_clusters.items():
            after = _build(clusters.cluster_file(scratch, cluster).parent)
            differences += compare(objects, after, cluster)
        new_files = {
            p.relative_to(scratch_dir): p.read_text(encoding="utf-8")
            for p in walk.repo_files(scratch_dir)
        }
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
    """Plan under the repo lock, then write every file at once and delete the replaced ones.

    Refuses (`InputError`, nothing written) when a difference remains and
    `accept_differences` is not set.
    """
    root, _, service = service_folder(infra, folder)
    with writing(root, f"gitops-onboard adopt apps/{service}", service=service):
        plan = plan_adoption(root, folder, template, vcs_ref=vcs_ref, allow_sources=allow_sources)
        if plan.differences and not accept_differences:
            raise InputError(
                "--accept-differences",
                f"the built output would change in {len(plan.differences)} place(s) "
                "(listed by a dry run); pass it to adopt anyway",
            )
        apply(plan.changes)
        for path in plan.removed:
            path.unlink()
    return plan
