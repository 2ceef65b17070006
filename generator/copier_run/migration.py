"""Steps of the template's Copier `_migrations`: `gitops-onboard _migrate STEP ...`.

`rename OLD NEW` moves a file a release renames; `overlays ANSWERS_FILE` moves a service on
several clusters to the layout with one overlay per cluster (see `to_overlays`).

A template release that renames a file adds a migration that runs before the update, so the
file keeps its history and its hand edits travel under the new name::

    _migrations:
      - version: v2.0.0
        when: "{{ _stage == 'before' }}"
        command: ["{{ _copier_python }}", "-m", "generator", "_migrate", "rename", "a", "b"]

Copier runs it in each destination being updated. The rename goes through `git mv` when the
file is tracked (Copier reads the destination from the git index), and does nothing when the
old file is absent or the new one already exists, so it is safe to run twice.
"""

from __future__ import annotations

from pathlib import Path

from generator import overlays
from generator.answers import load_answers, parse_yaml
from generator.errors import ToolError
from generator.git import git
from generator.spec import ServiceSpec

__all__ = ["overlays_pending", "rename", "to_overlays"]


def rename(folder: Path, old: str, new: str) -> bool:
    """Rename `folder/old` to `folder/new`; return whether anything moved."""
    source, target = folder / old, folder / new
    if not source.exists() or target.exists():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        git("ls-files", "--error-unmatch", "--", old, cwd=folder)
    except ToolError:
        source.rename(target)
    else:
        git("mv", "--", old, new, cwd=folder)
    return True


def _tracked(folder: Path, name: str) -> bool:
    try:
        git("ls-files", "--error-unmatch", "--", name, cwd=folder)
    except ToolError:
        return False
    return True


def _moving(
    folder: Path, answers_file: str, clusters: object
) -> tuple[ServiceSpec, Path, str, overlays.Deployed] | None:
    """What `to_overlays` moves: the service, its base and the base's image; None: nothing."""
    answers = load_answers(folder / answers_file)
    if answers.get("kind") != "service":
        return None
    if isinstance(clusters, str):
        clusters = parse_yaml(clusters, "clusters") if clusters.strip() else None
    wanted = clusters if isinstance(clusters, list) else answers.get("clusters")
    spec = ServiceSpec.from_answers({**answers, "clusters": wanted, "cluster_overrides": {}})
    base_path = folder / "kustomization.yaml"
    if not overlays.uses_overlays(spec) or not base_path.is_file():
        return None
    with base_path.open(encoding="utf-8", newline="") as handle:
        base = handle.read()
    deployed = overlays.deployed_in(base, spec.image)
    if deployed is None:
        return None
    return spec, base_path, base, deployed


def overlays_pending(folder: Path, answers_file: str) -> bool:
    """Whether `to_overlays` (with the recorded clusters) would change anything in `folder`."""
    moving = _moving(folder, answers_file, None)
    if moving is None:
        return False
    spec, _base_path, base, _deployed = moving
    missing = any(not (folder / overlays.overlay_path(c)).exists() for c in spec.clusters)
    return missing or overlays.base_as_rendered(base, spec) != base


def to_overlays(folder: Path, answers_file: str, clusters: object = None) -> list[str]:
    """Before an update: give a service on several clusters one overlay per cluster.

    `clusters` is the new `clusters` answer when the update is given one (`--data`), else
    the recorded one holds: a service that moves from one cluster to several moves too.

    A release before overlays kept one `images:` entry in the base for every cluster. Each
    overlay is written with that entry's tag and digest, so every cluster keeps running what
    it runs; the base gets the `image_tag` answer back as its `newTag` (no digest), in the
    working tree and in git's index, which is what Copier diffs against the old release:
    the update then removes the base's `images:` entry without a conflict, and the template's
    task completes the overlays (their patches, the clusters' `components`) keeping the tags.
    The overlays stay untracked, out of Copier's diff. Returns the files written; nothing
    for any other copy, or one already moved, so it is safe to run twice.
    """
    moving = _moving(folder, answers_file, clusters)
    if moving is None:
        return []
    spec, base_path, base, deployed = moving
    written = []
    for cluster in spec.clusters:
        path = folder / overlays.overlay_path(cluster)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(overlays.overlay_text(spec, cluster, deployed), encoding="utf-8")
            written.append(overlays.overlay_path(cluster))
    reset = overlays.base_as_rendered(base, spec)
    if reset != base:
        with base_path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(reset)
        written.append("kustomization.yaml")
        if _tracked(folder, "kustomization.yaml"):
            git("add", "--", "kustomization.yaml", cwd=folder)
    return written
