"""What `check` knows of a service's per-cluster overlays (see `generator.overlays`).

- `with_overlays` adds the overlays the template's task writes to what the template renders,
  so drift is found per overlay (CD's `newTag` and `digest` ignored in each, as in the base);
  only for a template version whose base has no `images:` entry, the layout with overlays;
- `overlay_findings`: every cluster of the service lists its own overlay in `components`,
  no cluster lists the overlay of another, and no overlay is left for a cluster the service
  is not on;
- `deployed`: the image each cluster runs, for the "what runs where" table.
"""

from __future__ import annotations

from pathlib import Path

from generator import overlays
from generator.check.findings import Deployment, Finding
from generator.clusters import cluster_file, overlay_entry, resource_path
from generator.copier_run.render import RenderedFiles
from generator.errors import InputError
from generator.spec import ServiceSpec
from generator.stamped import StampedCopy

__all__ = ["Deployment", "deployed", "overlay_findings", "with_overlays"]


def _spec(copy: StampedCopy) -> ServiceSpec | None:
    if copy.kind != "service":
        return None
    try:
        return ServiceSpec.from_answers(copy.answers)
    except InputError:
        return None  # the render finding (or Copier) says what is wrong with the answers


def _has_overlays(spec: ServiceSpec, base: str) -> bool:
    return overlays.uses_overlays(spec) and overlays.deployed_in(base, spec.image) is None


def _text(data: bytes | object) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""


def with_overlays(copy: StampedCopy, rendered: RenderedFiles) -> RenderedFiles:
    """`rendered` plus the overlays of a service on several clusters, at the answers' tag."""
    spec = _spec(copy)
    if spec is None or not _has_overlays(spec, _text(rendered.get("kustomization.yaml"))):
        return rendered
    files = overlays.overlay_files(spec, {})
    return {**rendered, **{path: text.encode("utf-8") for path, text in files.items()}}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _rel(path: Path, display: Path) -> str:
    return path.relative_to(display).as_posix() if path.is_relative_to(display) else str(path)


def overlay_findings(
    root: Path, copy: StampedCopy, listed: dict[str, list[str]], display: Path
) -> list[Finding]:
    """Overlays a cluster does not list, lists for another cluster, or that have no cluster.

    `listed` holds the `components` of each cluster kustomization of the infra repo at `root`.
    """
    spec = _spec(copy)
    if spec is None:
        return []
    where = _rel(copy.folder, display)
    wanted = _has_overlays(spec, _read(copy.folder / "kustomization.yaml"))
    found: list[Finding] = []
    resource = resource_path(root, copy.folder)
    for cluster, entries in sorted(listed.items()):
        file = _rel(cluster_file(root, cluster), display)
        own = overlay_entry(resource, cluster)
        prefix = own.rsplit("/", 1)[0] + "/"
        for entry in entries:
            entry = entry.rstrip("/")
            if entry.startswith(prefix) and entry != own:
                found.append(
                    Finding(
                        "cluster",
                        file,
                        f"lists {entry}, the overlay of another cluster: {cluster} would run "
                        "that cluster's image and values",
                        f"replace it with `- {own}` in the components of {file}",
                    )
                )
        if wanted and cluster in spec.clusters and own not in [e.rstrip("/") for e in entries]:
            found.append(
                Finding(
                    "cluster",
                    file,
                    f"lists {where} without its overlay for {cluster}: {cluster} runs the base, "
                    "with no image tag of its own and none of its cluster_overrides",
                    f"add `- {own}` to the components of {file}",
                )
            )
    folder = copy.folder / overlays.FOLDER
    strays = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    for name in strays:
        if wanted and name in spec.clusters:
            continue
        found.append(
            Finding(
                "cluster",
                _rel(folder / name, display),
                f"is an overlay for cluster {name}, but the service runs on "
                f"[{', '.join(spec.clusters)}]"
                + ("" if wanted else " with no overlays (one cluster: the base holds the tag)"),
                f"delete {_rel(folder / name, display)} (and its entry in the components of "
                f"{_rel(cluster_file(root, name), display)}), or add {name} to the clusters answer",
            )
        )
    return found


def deployed(copy: StampedCopy, display: Path) -> list[Deployment]:
    """The image tag and digest each cluster of the service runs, from its overlay or base."""
    spec = _spec(copy)
    if spec is None:
        return []
    base = copy.folder / "kustomization.yaml"
    use_overlays = _has_overlays(spec, _read(base))
    result = []
    for cluster in spec.clusters:
        path = copy.folder / overlays.overlay_path(cluster) if use_overlays else base
        found = overlays.deployed_in(_read(path), spec.image)
        result.append(
            Deployment(
                spec.service,
                cluster,
                _rel(path, display),
                None if found is None else found.tag,
                None if found is None else found.digest,
            )
        )
    return result
