"""The SOPS decryption block on the Flux Kustomizations that reconcile each cluster folder.

Flux decrypts a Secret only when the `Kustomization` (kustomize.toolkit.fluxcd.io) that
applies it says so::

    spec:
      decryption:
        provider: sops
        secretRef:
          name: sops-age

The Kustomization for `clusters/<c>` is found by `kind` and `spec.path` in any YAML file of
the repo (usually `clusters/<c>/flux-system/gotk-sync.yaml` after `flux bootstrap`).

`gotk-sync.yaml` is Flux's own output ("DO NOT EDIT"), rewritten by every `flux bootstrap`:
there the decryption goes into a patch in the folder's `kustomization.yaml`, the way Flux
documents customising bootstrap (`generator.fluxpatch`), and a block an earlier release
spliced into `gotk-sync.yaml` is moved into that patch. In a Kustomization the user wrote,
the block is spliced in under `spec:`; comments and everything else stay byte for byte. A
Kustomization that already decrypts with sops is left alone.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from generator import fluxpatch, git
from generator.age import FLUX_SECRET_NAME
from generator.clusters import list_clusters
from generator.errors import InputError
from generator.fsutil import confined
from generator.kustomization import resources
from generator.transaction import Change
from generator.walk import repo_files
from generator.yamltext import new_yaml

__all__ = [
    "API_GROUP",
    "Found",
    "Plan",
    "decryption_block",
    "enable_decryption",
    "kustomization_files",
    "normalize",
    "plan_enable",
    "search_root",
]

API_GROUP = "kustomize.toolkit.fluxcd.io/"


def decryption_block(indent: str = "", step: str = "  ", newline: str = "\n") -> str:
    """The block to add under a Flux Kustomization's `spec:`."""
    rows = [
        (0, "decryption:"),
        (1, "provider: sops"),
        (1, "secretRef:"),
        (2, f"name: {FLUX_SECRET_NAME}"),
    ]
    return "".join(f"{indent}{step * depth}{row}{newline}" for depth, row in rows)


def normalize(path: str) -> str:
    """A Flux `spec.path` as a plain relative path: `./clusters/koala/` → `clusters/koala`."""
    return posixpath.normpath(path.strip().lstrip("/")) if path.strip() else "."


@dataclass(frozen=True)
class Found:
    """A Flux Kustomization whose `spec.path` is one of the cluster folders.

    `status`: `added` (decryption was missing), `present`, or `moved` (it was spliced into a
    file flux bootstrap rewrites and goes into a patch). `patch_file` names the
    kustomization whose patch holds it, when it lives in one.
    """

    file: str
    name: str
    spec_path: str
    status: str
    secret_ref: str = FLUX_SECRET_NAME
    patch_file: str = ""


def _is_flux_kustomization(doc: Any) -> bool:
    return (
        isinstance(doc, CommentedMap)
        and str(doc.get("apiVersion", "")).startswith(API_GROUP)
        and doc.get("kind") == "Kustomization"
        and isinstance(doc.get("spec"), CommentedMap)
    )


def _newline(lines: list[str]) -> str:
    return "\r\n" if lines and lines[0].endswith("\r\n") else "\n"


def enable_decryption(text: str, paths: Iterable[str], where: str) -> tuple[str, list[Found]]:
    """Add the decryption block to each Flux Kustomization in `text` reconciling `paths`.

    Pure: returns the new text (the input itself when nothing changes) and what it found.
    """
    wanted = {normalize(p) for p in paths}
    try:
        docs = list(new_yaml("rt").load_all(text))
    except YAMLError:
        return text, []
    lines = text.splitlines(keepends=True)
    newline = _newline(lines)
    found: list[Found] = []
    inserts: list[tuple[int, str]] = []
    for doc in docs:
        if not _is_flux_kustomization(doc):
            continue
        spec: CommentedMap = doc["spec"]
        spec_path = str(spec.get("path", ""))
        if normalize(spec_path) not in wanted:
            continue
        name = str((doc.get("metadata") or {}).get("name", "?"))
        if "decryption" in spec:
            found.append(_existing(spec["decryption"], where, name, spec_path))
            continue
        inserts.append(_insertion(doc, spec, lines, newline, where, name))
        found.append(Found(where, name, spec_path, "added"))
    for at, block in sorted(inserts, reverse=True):
        lines[at:at] = [block]
    return ("".join(lines) if inserts else text), found


def _existing(decryption: Any, where: str, name: str, spec_path: str) -> Found:
    ref = decryption.get("secretRef") if isinstance(decryption, dict) else None
    ref_name = ref.get("name") if isinstance(ref, dict) else None
    if not isinstance(decryption, dict) or decryption.get("provider") != "sops" or not ref_name:
        raise InputError(
            f"{where}: Kustomization {name}",
            "already has a spec.decryption that is not `provider: sops` with a secretRef; "
            f"fix it by hand to:\n{decryption_block('  ')}",
        )
    return Found(where, name, spec_path, "present", str(ref_name))


def _insertion(
    doc: CommentedMap, spec: CommentedMap, lines: list[str], newline: str, where: str, name: str
) -> tuple[int, str]:
    spec_line, spec_col = doc.lc.key("spec")
    first = next(iter(spec))
    child_line, child_col = spec.lc.key(first)
    if spec.fa.flow_style() or child_line == spec_line:
        raise InputError(
            f"{where}: Kustomization {name}",
            "its spec is written in flow style; add this under spec by hand:\n"
            + decryption_block(),
        )
    if not lines[spec_line].endswith(("\n", "\r")):
        lines[spec_line] += newline
    step = " " * max(child_col - spec_col, 2)
    return spec_line + 1, decryption_block(" " * child_col, step, newline)


def search_root(infra_root: Path) -> Path:
    """Where Flux paths start: the git work tree holding the infra repo, else the repo itself."""
    top = git.toplevel(infra_root)
    return top if top is not None else infra_root.resolve()


def _yaml_files(root: Path) -> Iterator[Path]:
    for path in sorted(repo_files(root)):
        if path.name.endswith(".enc.yaml"):
            continue
        if path.suffix in (".yaml", ".yml") and path.is_file():
            yield path


@dataclass(frozen=True)
class Plan:
    """What enabling decryption would change, and what it found per cluster."""

    changes: list[Change] = field(default_factory=list)
    found: dict[str, list[Found]] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        """Clusters that no Flux Kustomization reconciles (Flux not bootstrapped there)."""
        return [cluster for cluster, hits in self.found.items() if not hits]


def kustomization_files(base: Path) -> list[tuple[Path, str]]:
    """The YAML files below `base` (a `search_root`) that may hold a Flux Kustomization."""
    found = []
    for path in _yaml_files(base):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if API_GROUP in text and "Kustomization" in text:
            found.append((path, text))
    return found


def plan_enable(
    infra_root: Path,
    clusters: Iterable[str] | None = None,
    files: Sequence[tuple[Path, str]] | None = None,
) -> Plan:
    """Plan the decryption block for the Flux Kustomizations of `clusters` (default: all).

    `files` is `kustomization_files(search_root(infra_root))` when the caller has read them.
    """
    root = infra_root.resolve()
    base = search_root(root)
    names = list_clusters(root) if clusters is None else list(clusters)
    by_path = {normalize((root / "clusters" / c).relative_to(base).as_posix()): c for c in names}
    plan = Plan(found={c: [] for c in names})
    for path, text in kustomization_files(base) if files is None else files:
        where = path.relative_to(base).as_posix()
        if fluxpatch.is_generated(path.name, text):
            changes, found = _plan_generated(path, text, base, by_path)
        else:
            new, found = enable_decryption(text, by_path, where)
            changes = [Change(confined(base, path), text, new)] if new != text else []
        for hit in found:
            plan.found[by_path[normalize(hit.spec_path)]].append(hit)
        plan.changes.extend(changes)
    return plan


_KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def _plan_generated(
    path: Path, text: str, base: Path, paths: Iterable[str]
) -> tuple[list[Change], list[Found]]:
    """Decryption for Kustomizations in a file Flux generates: a patch beside it."""
    where = path.relative_to(base).as_posix()
    _, found = enable_decryption(text, paths, where)
    if not found:
        return [], []
    listing = next(
        (path.parent / n for n in _KUSTOMIZATION_NAMES if (path.parent / n).is_file()), None
    )
    listing_text = listing.read_text(encoding="utf-8") if listing else ""
    listing_where = (listing or path.parent / "kustomization.yaml").relative_to(base).as_posix()
    if listing is None or path.name not in resources(listing_text, listing_where):
        raise InputError(
            where,
            "is written by flux bootstrap, which rewrites it, and no kustomization.yaml beside "
            f"it lists it to patch; add to the patches: of {listing_where} (Flux's bootstrap "
            "customisation):\n" + fluxpatch.patch_entry(found[0].name, found[0].secret_ref),
        )
    new_text, new_listing = text, listing_text
    hits = []
    for hit in found:
        if hit.status == "present":
            new_text = fluxpatch.remove_decryption(new_text, hit.name, where)
            status = "moved"
        elif fluxpatch.decryption_patch(new_listing, hit.name) is None:
            status = "added"
        else:
            status = "present"
        ref = fluxpatch.decryption_patch(new_listing, hit.name) or hit.secret_ref
        new_listing = fluxpatch.add_decryption_patch(new_listing, hit.name, ref, listing_where)
        hits.append(
            dataclasses.replace(hit, status=status, secret_ref=ref, patch_file=listing_where)
        )
    changes = []
    if new_listing != listing_text:
        changes.append(Change(confined(base, listing), listing_text, new_listing))
    if new_text != text:
        changes.append(Change(confined(base, path), text, new_text))
    return changes, hits
