"""Consistency of an infra repo: clusters, services and folders agree with each other.

- every service is listed in each cluster of its `clusters` answer, and in no other; one on
  several clusters also with its own overlay in each (`generator.check.overlays`);
- no cluster lists a path that does not exist;
- every `apps/*` folder is stamped or listed as hand-made in `.gitops-onboard.yaml`:

      # .gitops-onboard.yaml at the infra repo root
      hand_made:
        - apps/legacy-dns

Each cluster kustomization is read once, whatever the number of services.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from generator import kustomization
from generator.check.findings import Finding
from generator.check.overlays import overlay_findings
from generator.clusters import cluster_file, flux_system_present, list_clusters, resource_path
from generator.errors import InputError
from generator.sources import CONFIG_FILE, load_hand_made
from generator.stamped import StampedCopy

__all__ = ["InfraLayout", "consistency_findings", "read_layout"]


@dataclass(frozen=True)
class InfraLayout:
    """The clusters of an infra repo with the `resources` and `components` each lists."""

    root: Path
    resources: dict[str, list[str]]
    unreadable: dict[str, str]
    components: dict[str, list[str]] = field(default_factory=dict)


def read_layout(root: Path) -> InfraLayout:
    """Read every cluster kustomization of the infra repo at `root`."""
    resources: dict[str, list[str]] = {}
    components: dict[str, list[str]] = {}
    unreadable: dict[str, str] = {}
    for cluster in list_clusters(root):
        path = cluster_file(root, cluster)
        where = path.relative_to(root).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
            resources[cluster] = kustomization.resources(text, where)
            components[cluster] = kustomization.components(text, where)
        except (InputError, OSError, UnicodeDecodeError) as error:
            resources.pop(cluster, None)
            unreadable[cluster] = str(error)
    return InfraLayout(root, resources, unreadable, components)


def _is_remote(entry: str) -> bool:
    return "://" in entry or entry.startswith(("github.com/", "gitlab.com/", "git@"))


def _rel(path: Path, display: Path) -> str:
    return path.relative_to(display).as_posix() if path.is_relative_to(display) else str(path)


def _service_findings(
    layout: InfraLayout, copy: StampedCopy, display: Path, listed_in: dict[str, set[str]]
) -> list[Finding]:
    where = _rel(copy.folder, display)
    entry = resource_path(layout.root, copy.folder)
    raw = copy.answers.get("clusters") or []
    wanted = [str(c) for c in raw] if isinstance(raw, list) else []
    listed = listed_in.get(entry, set())
    found: list[Finding] = []
    for cluster in wanted:
        if cluster in layout.unreadable:
            continue
        file = _rel(cluster_file(layout.root, cluster), display)
        if cluster not in layout.resources:
            found.append(
                Finding(
                    "cluster",
                    where,
                    f"its clusters answer names {cluster}, which has no {file}",
                    f"create the cluster or change the answer: copier update --trust "
                    f"--data 'clusters=[{', '.join(wanted)}]' {where}",
                )
            )
        elif cluster not in listed:
            found.append(
                Finding(
                    "cluster",
                    where,
                    f"is not listed in cluster {cluster} although its clusters answer names it",
                    f"add `- {entry}` to the resources of {file}",
                )
            )
    for cluster in sorted(listed - set(wanted)):
        file = _rel(cluster_file(layout.root, cluster), display)
        found.append(
            Finding(
                "cluster",
                where,
                f"is listed in cluster {cluster} but its clusters answer is [{', '.join(wanted)}]",
                f"remove `- {entry}` from the resources of {file}, or add {cluster} to the "
                f"answer: copier update --trust --data 'clusters=[{', '.join([*wanted, cluster])}]'"
                f" {where}",
            )
        )
    return found


def consistency_findings(
    layout: InfraLayout, copies: Iterable[StampedCopy], display: Path
) -> list[Finding]:
    """Every consistency finding of the infra repo described by `layout`."""
    root = layout.root
    found = [
        Finding("cluster", _rel(cluster_file(root, c), display), f"cannot be read: {problem}")
        for c, problem in sorted(layout.unreadable.items())
    ]
    listed_in: dict[str, set[str]] = {}
    for cluster, entries in layout.resources.items():
        file = _rel(cluster_file(root, cluster), display)
        if flux_system_present(root, cluster) and not any(
            e.rstrip("/") in ("flux-system", "./flux-system") for e in entries
        ):
            found.append(
                Finding(
                    "cluster",
                    file,
                    "does not list flux-system, which flux bootstrap committed beside it: Flux "
                    "builds only what this file lists and would prune its own objects",
                    f"add `- flux-system` to the resources of {file}",
                )
            )
        for entry in entries:
            listed_in.setdefault(entry.rstrip("/"), set()).add(cluster)
        for entry in [*entries, *layout.components.get(cluster, [])]:
            if _is_remote(entry) or (cluster_file(root, cluster).parent / entry).exists():
                continue
            name = Path(entry).name
            fix = f"remove `- {entry}` from the resources of {file}"
            if entry.startswith("../../apps/"):
                fix += f" (gitops-onboard offboard {name} does it for every cluster)"
            found.append(Finding("missing-path", file, f"lists {entry}, which does not exist", fix))
    inside = [c for c in copies if c.folder.is_relative_to(root) and c.folder != root]
    services = [c for c in inside if c.kind == "service"]
    for copy in services:
        found.extend(_service_findings(layout, copy, display, listed_in))
        found.extend(overlay_findings(root, copy, layout.components, display))
    found.extend(_unstamped_findings(root, {c.folder for c in inside}, display))
    return found


def _unstamped_findings(root: Path, stamped: set[Path], display: Path) -> list[Finding]:
    apps = root / "apps"
    if not apps.is_dir():
        return []
    hand_made = load_hand_made(root)
    found = []
    for folder in sorted(p for p in apps.iterdir() if p.is_dir() and not p.name.startswith(".")):
        relative = folder.relative_to(root).as_posix()
        if folder in stamped or relative in hand_made:
            continue
        found.append(
            Finding(
                "unstamped",
                _rel(folder, display),
                "is neither stamped from the template nor listed as hand-made",
                f"onboard it (gitops-onboard onboard --service {folder.name} ...) or list "
                f"`{relative}` under hand_made in {CONFIG_FILE}",
            )
        )
    return found
