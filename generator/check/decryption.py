"""Does Flux decrypt what a cluster holds? Read from the cluster's kustomize build.

A cluster whose build holds encrypted Secrets needs the Flux Kustomization that reconciles
it (`spec.path` is the cluster folder) to carry `spec.decryption` with `provider: sops`, or
Flux applies the Secrets still encrypted. The build shows that Kustomization as Flux will
apply it, patches included. A Kustomization kept outside the cluster's build (a monorepo's
own Flux folder) is looked up in the repo's files instead; a cluster no Flux Kustomization
reconciles yet (Flux not bootstrapped) is left to `doctor`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from generator import flux
from generator.check.encryption import has_sops_metadata
from generator.check.findings import Finding
from generator.errors import OnboardError

__all__ = ["decryption_findings"]


def _reconciling(objects: Iterable[Mapping[str, Any]], spec_path: str) -> list[Mapping[str, Any]]:
    found = []
    for obj in objects:
        spec = obj.get("spec")
        if (
            str(obj.get("apiVersion", "")).startswith(flux.API_GROUP)
            and obj.get("kind") == "Kustomization"
            and isinstance(spec, Mapping)
            and flux.normalize(str(spec.get("path", ""))) == spec_path
        ):
            found.append(obj)
    return found


def _decrypts(obj: Mapping[str, Any]) -> bool:
    decryption = obj["spec"].get("decryption")
    if not isinstance(decryption, Mapping) or decryption.get("provider") != "sops":
        return False
    ref = decryption.get("secretRef")
    return isinstance(ref, Mapping) and bool(ref.get("name"))


def _finding(where: str, cluster: str, name: object) -> Finding:
    return Finding(
        "flux",
        where,
        f"the Flux Kustomization {name} reconciles this cluster, which holds encrypted "
        "Secrets, without spec.decryption: Flux would apply them still encrypted",
        f"gitops-onboard flux enable-decryption --cluster {cluster}",
    )


def decryption_findings(
    where: str,
    infra_root: Path,
    cluster: str,
    objects: list[Mapping[str, Any]],
    read: dict[Path, list[tuple[Path, str]]] | None = None,
) -> list[Finding]:
    """Findings for one cluster whose build output is `objects`.

    `read` keeps the Flux Kustomization files of each search root, for the next cluster.
    """
    if not any(o.get("kind") == "Secret" and has_sops_metadata(o) for o in objects):
        return []
    folder = (infra_root / "clusters" / cluster).resolve()
    base = flux.search_root(infra_root)
    spec_path = flux.normalize(folder.relative_to(base).as_posix())
    built = _reconciling(objects, spec_path)
    if built:
        return [
            _finding(where, cluster, (o.get("metadata") or {}).get("name", "?"))
            for o in built
            if not _decrypts(o)
        ]
    try:
        files = None
        if read is not None:
            files = read.get(base)
            if files is None:
                files = read[base] = flux.kustomization_files(base)
        plan = flux.plan_enable(infra_root, [cluster], files)
    except OnboardError as error:
        return [
            Finding(
                "flux",
                where,
                f"cannot tell whether Flux decrypts this cluster's Secrets: {error}",
                f"gitops-onboard flux enable-decryption --cluster {cluster}",
            )
        ]
    return [_finding(where, cluster, h.name) for h in plan.found[cluster] if h.status == "added"]
