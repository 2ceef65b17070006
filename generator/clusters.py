"""Register and unregister a service in the kustomizations of any set of clusters.

An infra repo keeps one `clusters/<cluster>/kustomization.yaml` per cluster; a service is
registered when its folder (`../../apps/<service>`) is in that file's `resources`. A service on
several clusters is also listed, in `components`, with its overlay for that cluster
(`../../apps/<service>/clusters/<c>`, a kustomize Component, see `generator.overlays`): an
overlay cannot list the folder it sits in as a resource, kustomize refuses the cycle. Changes are
only planned here (every file read and validated); `generator.transaction.apply` writes
them together, and restores the files already written if a write fails, so a failed
registration changes nothing. Finding the infra root is `generator.infra_root`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from generator import kustomization, rules
from generator.errors import InputError
from generator.fsutil import confined
from generator.transaction import Change

__all__ = [
    "cluster_entries",
    "cluster_file",
    "flux_system_present",
    "list_clusters",
    "new_cluster_text",
    "overlay_entry",
    "plan_reconcile",
    "plan_register",
    "plan_unregister",
    "registered_clusters",
    "resource_path",
]


def cluster_file(root: Path, cluster: str) -> Path:
    """The kustomization Flux reconciles for `cluster`."""
    return root / "clusters" / cluster / "kustomization.yaml"


def list_clusters(root: Path) -> list[str]:
    """Every cluster of the infra repo at `root`, sorted."""
    folder = root / "clusters"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "kustomization.yaml").is_file())


def new_cluster_text(cluster: str, *, flux_system: bool = False) -> str:
    """The kustomization of a new cluster; it lists `flux-system` when Flux is bootstrapped.

    Once this file exists Flux builds only what it lists, so leaving out the `flux-system`
    folder that `flux bootstrap` committed would let Flux prune its own objects.
    """
    head = (
        f"# Flux reconciles this folder for cluster {cluster}.\n"
        "# gitops-onboard adds and removes ../../apps/<service> entries; other entries are yours.\n"
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
    )
    if flux_system:
        return head + "resources:\n- flux-system\n"
    return head + "resources: []\n"


def flux_system_present(root: Path, cluster: str) -> bool:
    """True when `flux bootstrap` committed `clusters/<cluster>/flux-system/`."""
    return (root / "clusters" / cluster / "flux-system").is_dir()


def resource_path(root: Path, service_dir: Path) -> str:
    """The `resources` entry of `service_dir` as seen from a cluster folder."""
    relative = os.path.relpath(service_dir.resolve(), (root / "clusters" / "_").resolve())
    return Path(relative).as_posix()


def cluster_entries(root: Path, service_dir: Path, cluster: str) -> tuple[str, str]:
    """How `cluster` lists the service: its folder (a resource), its overlay (a component)."""
    base = resource_path(root, service_dir)
    return base, overlay_entry(base, cluster)


def overlay_entry(resource: str, cluster: str) -> str:
    """The `components` entry of the overlay for `cluster` of the service at `resource`."""
    return f"{resource}/clusters/{cluster}"


def _read(path: Path, where: str) -> str:
    try:
        # newline="": the edit keeps the file's own line breaks (CRLF stays CRLF).
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise InputError(where, "must be UTF-8 text") from error


def _where(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _check_names(clusters: Iterable[str]) -> None:
    for name in clusters:
        if problem := rules.dns1123_label(name):
            raise InputError("clusters", problem, name)


def plan_register(
    root: Path,
    service_dir: Path,
    clusters: Iterable[str],
    *,
    create_missing: bool = False,
    overlays: bool = False,
) -> list[Change]:
    """Plan adding `service_dir` (with `overlays`: and its overlay) to each cluster.

    Without `overlays`, an overlay a cluster lists is removed. Raises before anything is
    written.
    """
    clusters = list(clusters)
    _check_names(clusters)
    changes: list[Change] = []
    for cluster in clusters:
        entry, overlay = cluster_entries(root, service_dir, cluster)
        path = confined(root, cluster_file(root, cluster))
        if path.exists():
            old: str | None = _read(path, _where(root, path))
            base = old
        elif create_missing:
            old, base = (
                None,
                new_cluster_text(cluster, flux_system=flux_system_present(root, cluster)),
            )
        else:
            known = ", ".join(list_clusters(root)) or "none"
            raise InputError(
                "clusters",
                f"cluster {cluster!r} has no {_where(root, path)} (known: {known}); add it "
                "to the infra repo's clusters or allow creating it (create_missing_clusters=true, "
                "--create-clusters)",
            )
        assert base is not None
        where = _where(root, path)
        new = kustomization.add_resource(base, entry, where)
        if overlays:
            new = kustomization.add_resource(new, overlay, where, "components")
        else:
            new = kustomization.remove_resource(new, overlay, where, "components")
        if new != old:
            changes.append(Change(path, old, new))
    return changes


def plan_unregister(
    root: Path, service_dir: Path, clusters: Iterable[str] | None = None
) -> list[Change]:
    """Plan removing `service_dir` from the given clusters (default: every cluster)."""
    names = list_clusters(root) if clusters is None else list(clusters)
    changes: list[Change] = []
    for cluster in names:
        path = confined(root, cluster_file(root, cluster))
        if not path.exists():
            continue
        old = _read(path, _where(root, path))
        entry, overlay = cluster_entries(root, service_dir, cluster)
        # The component first: a file left with `resources` alone keeps `resources: []`.
        new = kustomization.remove_resource(old, overlay, _where(root, path), "components")
        new = kustomization.remove_resource(new, entry, _where(root, path))
        if new != old:
            changes.append(Change(path, old, new))
    return changes


def plan_reconcile(
    root: Path,
    service_dir: Path,
    clusters: Iterable[str],
    *,
    create_missing: bool = False,
    overlays: bool = False,
) -> list[Change]:
    """Plan listing `service_dir` (and its overlays) in exactly `clusters`, in no other."""
    wanted = list(clusters)
    others = [c for c in list_clusters(root) if c not in wanted]
    return [
        *plan_register(root, service_dir, wanted, create_missing=create_missing, overlays=overlays),
        *plan_unregister(root, service_dir, others),
    ]


def registered_clusters(root: Path, service_dir: Path) -> list[str]:
    """The clusters whose kustomization lists `service_dir`."""
    entry = resource_path(root, service_dir)
    found = []
    for cluster in list_clusters(root):
        path = cluster_file(root, cluster)
        listed = kustomization.resources(_read(path, _where(root, path)), _where(root, path))
        if any(item.rstrip("/") == entry for item in listed):
            found.append(cluster)
    return found
