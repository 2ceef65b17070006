"""Promotion: copy the deployed tag of a service from one cluster's overlay to others.

A service on several clusters has one overlay per cluster
(`apps/<service>/clusters/<cluster>/kustomization.yaml`), each with its own `images:` entry.
CD sets the tag on one cluster; `promote` copies that entry's `newTag` (and `digest`, or
its absence) to the other overlays with the edit `check` already treats as CD's own: the
entry's `newTag` and `digest` lines are taken from the source, nothing else changes
(`generator.cd_owned.take_cd_owned_lines`).

`plan_promotion` reads and validates everything and writes nothing; `promote` takes the
infra repo's lock, journals the change and writes every overlay or none.

Example::

    plan = promote(Path("infra"), "web", "koala", "all")
    print(plan.commit_message)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator import k8s_yaml, overlays, rules
from generator.answers import ANSWERS_FILE, load_answers
from generator.cd_owned import take_cd_owned_lines
from generator.errors import InputError, OnboardError
from generator.fsutil import confined
from generator.infra_root import find_infra_root
from generator.session import writing
from generator.transaction import Change, Journal, apply, entries_of, rollback

__all__ = [
    "ALL",
    "Pin",
    "Promotion",
    "PromotionRefused",
    "check_names",
    "overlay_path",
    "plan_promotion",
    "promote",
    "read_pin",
    "service_clusters",
]

ALL = "all"


class PromotionRefused(OnboardError):
    """The repo holds nothing that can be promoted (no tag, no overlay, a damaged one)."""


@dataclass(frozen=True)
class Pin:
    """What one overlay deploys: the `newTag` and `digest` (None when absent) of the image."""

    tag: str | None
    digest: str | None

    def describe(self) -> str:
        """`tag` or `tag@digest`."""
        return f"{self.tag}@{self.digest}" if self.digest else str(self.tag)


@dataclass(frozen=True)
class Promotion:
    """A planned promotion: the pin of the source and the overlays it changes."""

    service: str
    image: str
    source: str
    pin: Pin
    promoted: tuple[str, ...]  # clusters whose overlay changes
    unchanged: tuple[str, ...]  # clusters that already run the pin
    changes: tuple[Change, ...]

    @property
    def commit_message(self) -> str:
        """The message of the commit that records the promotion."""
        return (
            f"chore(promote): {self.service} {self.pin.tag} from {self.source} "
            f"to {', '.join(self.promoted)}"
        )

    def diff(self, root: Path) -> str:
        """A unified diff of the planned changes, paths relative to the repo at `root`."""
        chunks: list[str] = []
        for change in self.changes:
            name = change.path.relative_to(root.resolve()).as_posix()
            chunks += difflib.unified_diff(
                (change.old or "").splitlines(keepends=True),
                change.new.splitlines(keepends=True),
                fromfile=f"a/{name}",
                tofile=f"b/{name}",
            )
        return "".join(chunks)


def _where(service: str, cluster: str) -> str:
    return f"apps/{service}/{overlays.overlay_path(cluster)}"


def overlay_path(root: Path, service: str, cluster: str) -> Path:
    """The overlay of `service` on `cluster`, reached through no symbolic link."""
    return confined(root, root / _where(service, cluster))


def check_names(service: str, source: str, to: str) -> None:
    """Refuse a service or cluster name that is not a label (a path, `..`, a line break)."""
    if problem := rules.dns1035_label(service):
        raise InputError("service", problem, service)
    if problem := rules.dns1123_label(source):
        raise InputError("--from", problem, source)
    if to != ALL and (problem := rules.dns1123_label(to)):
        raise InputError("--to", f"must be a cluster name or `{ALL}`: {problem}", to)


def _service_dir(root: Path, service: str) -> Path:
    if problem := rules.dns1035_label(service):
        raise InputError("service", problem, service)
    folder = confined(root, root / "apps" / service)
    if not (folder / ANSWERS_FILE).is_file():
        raise InputError("service", f"apps/{service} is not an onboarded service", service)
    return folder


def service_clusters(root: Path, service: str) -> tuple[str, list[str]]:
    """The image of `service` and its clusters, as its answers file records them."""
    folder = _service_dir(root, service)
    answers = load_answers(confined(root, folder / ANSWERS_FILE))
    clusters = answers.get("clusters")
    if not isinstance(clusters, list) or rules.check(clusters, "cluster_list"):
        raise PromotionRefused(
            f"apps/{service}/{ANSWERS_FILE}: clusters must be a list of cluster names"
        )
    parts = [answers.get(key) for key in ("registry", "owner", "service")]
    if not all(isinstance(part, str) and part for part in parts):
        raise PromotionRefused(
            f"apps/{service}/{ANSWERS_FILE} records no registry, owner or service"
        )
    return "/".join(str(part) for part in parts), [str(name) for name in clusters]


def read_pin(text: str, image: str, where: str) -> Pin:
    """The pin of the one `images:` entry named `image` in the kustomization `text`.

    The tag and digest are read as written (`newTag: 1.10` is 1.10), as kustomize reads them.
    """
    try:
        data: Any = k8s_yaml.load_as_written(text)
    except yaml.YAMLError:
        raise PromotionRefused(f"{where} is not valid YAML") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        images = []
    entries = [e for e in images if isinstance(e, dict) and e.get("name") == image]
    if len(entries) != 1:
        raise PromotionRefused(
            f"{where} must have exactly one images: entry named {image} (found "
            f"{len(entries)}); `gitops-onboard update` restores the stamped one"
        )
    tag, digest = entries[0].get("newTag"), entries[0].get("digest")
    return Pin(
        None if tag in (None, "") else str(tag), None if digest in (None, "") else str(digest)
    )


def _read(path: Path, where: str) -> str:
    if not path.is_file():
        raise PromotionRefused(
            f"{where} does not exist; the service's clusters each need their overlay "
            "(`gitops-onboard update` stamps them)"
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PromotionRefused(f"{where} cannot be read ({type(error).__name__})") from None


def _targets(clusters: list[str], source: str, to: str) -> list[str]:
    if to == ALL:
        return [name for name in clusters if name != source]
    if to not in clusters:
        raise InputError(
            "--to", f"must be one of the clusters of the service: {', '.join(clusters)}", to
        )
    if to == source:
        raise InputError("--to", "must name another cluster than --from", to)
    return [to]


def _edit(target: str, source: str, image: str, where: str) -> str:
    """`target` with the pin lines of `image` taken from `source`; only those lines change."""
    edited = take_cd_owned_lines(target, source, only=image)
    changed = [
        line
        for line in difflib.unified_diff(target.splitlines(), edited.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    if any(
        line[1:].lstrip(" \t-").split(":", 1)[0] not in ("newTag", "digest") for line in changed
    ):
        raise PromotionRefused(f"the promotion would change more than newTag and digest in {where}")
    return edited


def plan_promotion(infra: Path, service: str, source: str, to: str) -> Promotion:
    """Validate a promotion of `service` from cluster `source` to `to` (a cluster or `all`).

    Writes nothing. `InputError` for a service or cluster name that is not one of the
    service's (or a service on one cluster); `PromotionRefused` when the repo holds no
    tag to promote, or an overlay is missing or damaged.
    """
    check_names(service, source, to)
    root = find_infra_root(infra)
    image, clusters = service_clusters(root, service)
    if len(clusters) < 2:
        raise InputError(
            "service",
            f"runs on one cluster ({clusters[0]}); promote moves a tag between the clusters "
            "of a service on several",
            service,
        )
    if source not in clusters:
        raise InputError(
            "--from", f"must be one of the clusters of the service: {', '.join(clusters)}", source
        )
    targets = _targets(clusters, source, to)
    where = _where(service, source)
    source_text = _read(overlay_path(root, service, source), where)
    pin = read_pin(source_text, image, where)
    if pin.tag is None:
        raise PromotionRefused(
            f"{where} has no newTag for {image}: nothing to promote; deploy to {source} first"
        )
    changes: list[Change] = []
    promoted: list[str] = []
    unchanged: list[str] = []
    for cluster in targets:
        path = overlay_path(root, service, cluster)
        where = _where(service, cluster)
        text = _read(path, where)
        current = read_pin(text, image, where)
        if current == pin:
            unchanged.append(cluster)
            continue
        if current.tag is None:
            raise PromotionRefused(
                f"{where}: the images: entry {image} has no newTag line to set; "
                "`gitops-onboard update` restores it"
            )
        changes.append(Change(path, text, _edit(text, source_text, image, where)))
        promoted.append(cluster)
    return Promotion(service, image, source, pin, tuple(promoted), tuple(unchanged), tuple(changes))


def _same_service(service: str) -> Callable[[Journal], bool]:
    def accepts(journal: Journal) -> bool:
        return journal.kind == "promote" and journal.service == service

    return accepts


def promote(infra: Path, service: str, source: str, to: str) -> Promotion:
    """Plan and write a promotion, holding the infra repo's lock; return what was done.

    Input is checked before the lock is taken, then the promotion is planned again under
    it. An interrupted promotion of the same service is undone first (its files that still
    hold its new text get their old text back), then this one is planned and written.
    """
    root = find_infra_root(infra)
    plan_promotion(root, service, source, to)  # bad input stops here, before the lock
    command = f"gitops-onboard promote {service} --from {source} --to {to}"
    with writing(root, command, service=service, accepts=_same_service(service)) as session:
        if session.journal is not None:
            rollback(root, session.journal.entries)
        plan = plan_promotion(root, service, source, to)
        if plan.changes:
            session.begin(
                "promote", service, entries_of(root, list(plan.changes)), onboarding=False
            )
            apply(plan.changes)
        session.end()
    return plan
