"""Recognise an onboarding or offboarding that stopped half-way, and name its way out.

A killed command leaves one of these behind, each reported in one line with the command that
finishes it (`gitops-onboard onboard --resume <svc>`) and/or the one that undoes it
(`gitops-onboard offboard <svc>`):

- a journal (see `generator.transaction`): exactly what the change was and how far it got
  (an adoption names `gitops-onboard adopt apps/<svc> --resume` and `--rollback` instead);
- without a journal (plain `copier copy` writes none while it renders), an `apps/<svc>/`
  folder registered in no cluster (both ways of onboarding register last) that has files
  but no answers file (unless it is listed as hand-made) or a damaged one (empty, cut short, not
  YAML, no `_src_path`); or whose `kustomization.yaml` is missing, empty or lists a file
  that is missing or empty; or whose answers name clusters.

A damaged answers file of a registered service is reported too, with the way to restore it.

`check` reports each of them; every writing command refuses while a journal is left and
warns about the others.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from generator import adopt_write, clusters, kustomization
from generator.answers import ANSWERS_FILE, parse_recorded
from generator.errors import InputError, OnboardError
from generator.sources import load_hand_made
from generator.transaction import Journal, journal_path, read_journal

__all__ = ["Interrupted", "answers_problem", "examine", "from_journal", "scan"]


@dataclass(frozen=True)
class Interrupted:
    """One interrupted change: where, what is known about it, and the commands out of it."""

    folder: str
    what: str
    finish: str | None = None
    undo: str | None = None
    journal: Journal | None = None
    hint: str = ""

    @property
    def fix(self) -> str:
        """`finish it with ... or undo it with ...`."""
        ways = []
        if self.finish:
            ways.append(f"finish it with `{self.finish}`")
        if self.undo:
            ways.append(f"undo it with `{self.undo}`")
        return " or ".join(ways) or self.hint or "repair it by hand"

    def line(self) -> str:
        """The one line commands print."""
        return f"{self.folder}: {self.what}; {self.fix}"


def from_journal(journal: Journal, root: Path | None = None) -> Interrupted:
    """What a journal left behind says (with `root`, whether it can still be undone)."""
    undo = journal.undo_command()
    if (
        journal.kind == "adopt"
        and root is not None
        and not adopt_write.can_roll_back(root, journal)
    ):
        undo = None
    return Interrupted(
        f"apps/{journal.service}",
        f"`{journal.command}` was interrupted (pid {journal.pid}, started {journal.started})",
        journal.finish_command(),
        undo,
        journal,
    )


def _load(path: Path) -> tuple[Mapping[str, Any] | None, str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, f"cannot be read ({error})"
    return _parse(text)


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[Mapping[str, Any] | None, str | None]:
    """An answers file's text read (kept by text: a fleet update scans every one per copy)."""
    if not text.strip():
        return None, "is empty"
    if not text.endswith("\n"):
        return None, "is cut short (no final newline)"
    try:
        data = parse_recorded(text)
    except yaml.YAMLError:
        return None, "is not valid YAML"
    if not isinstance(data, dict):
        return None, "is not a mapping of answers"
    for key in ("_src_path", "kind"):
        if not data.get(key):
            return None, f"records no {key}"
    return MappingProxyType(data), None


def answers_problem(path: Path) -> str | None:
    """Why a Copier answers file cannot be used (None when it can)."""
    return _load(path)[1]


def _unfinished_resources(folder: Path) -> list[str]:
    """Files the service's kustomization needs that are missing or empty."""
    path = folder / "kustomization.yaml"
    try:
        text = path.read_text(encoding="utf-8")
        listed = kustomization.resources(text, "kustomization.yaml") if text.strip() else None
    except (OSError, UnicodeDecodeError, InputError):
        listed = None
    if listed is None:
        return ["kustomization.yaml"]
    missing = []
    for entry in listed:
        if "://" in entry or entry.startswith("git@"):
            continue
        target = folder / entry
        if target.is_dir():
            if not (target / "kustomization.yaml").is_file():
                missing.append(entry)
        elif not target.is_file() or target.stat().st_size == 0:
            missing.append(entry)
    return missing


def _linked(root: Path, path: Path) -> bool:
    """True when `path`, or a folder between `root` and it, is a symbolic link."""
    here = root
    for part in path.relative_to(root).parts:
        here = here / part
        if here.is_symlink():
            return True
    return False


def _listed_anywhere(root: Path) -> set[str] | None:
    """Every `resources` entry of every cluster (each cluster file read once).

    None when a cluster file cannot be read as the writing commands read it (a link, not
    YAML): which services are registered is then unknown, and none is called unregistered.
    """
    entries: set[str] = set()
    for cluster in clusters.list_clusters(root):
        path = clusters.cluster_file(root, cluster)
        if _linked(root, path):
            return None
        try:
            listed = kustomization.resources(path.read_text(encoding="utf-8"), path.name)
        except (InputError, OSError, UnicodeDecodeError):
            return None
        entries.update(entry.rstrip("/") for entry in listed)
    return entries


def _hand_made(root: Path, folder: Path) -> bool:
    try:
        listed = load_hand_made(root)
    except OnboardError:
        return False
    return folder.relative_to(root).as_posix() in listed


def examine(root: Path, folder: Path) -> Interrupted | None:
    """The interrupted onboarding `apps/<svc>/` at `folder` shows, if it shows one.

    Both ways of onboarding register a service last, so a registered folder was rendered
    completely. A folder reached through a symbolic link shows nothing: the writing commands
    refuse links, each with its own message.
    """
    if _linked(root, folder):
        return None
    return _examine(root, folder, _listed_anywhere(root))


def _examine(root: Path, folder: Path, listed: set[str] | None) -> Interrupted | None:
    service = folder.name
    where = folder.relative_to(root).as_posix()
    finish = f"gitops-onboard onboard --resume {service}"
    undo = f"gitops-onboard offboard {service}"
    registered = listed is None or clusters.resource_path(root, folder) in listed
    answers_path = folder / ANSWERS_FILE
    if not answers_path.exists():
        # An empty folder holds nothing git would see: check reports it as unstamped.
        if registered or not any(folder.iterdir()) or _hand_made(root, folder):
            return None
        return Interrupted(
            where,
            f"an interrupted onboarding: Copier stopped before writing {ANSWERS_FILE} (if it "
            f"is a hand-made folder instead, list {where} under hand_made in "
            ".gitops-onboard.yaml)",
            None,
            undo,
        )
    answers, problem = _load(answers_path)
    if answers is None and registered:
        return Interrupted(
            where,
            f"{ANSWERS_FILE} {problem}",
            hint=f"restore it from git: `git checkout -- {where}/{ANSWERS_FILE}`",
        )
    if answers is None:
        return Interrupted(
            where,
            f"an interrupted onboarding: {ANSWERS_FILE} {problem}, so it cannot be finished",
            None,
            undo,
        )
    if answers.get("kind") != "service" or registered:
        return None
    if missing := _unfinished_resources(folder):
        return Interrupted(
            where,
            f"an interrupted onboarding: {', '.join(missing)} missing or empty",
            finish,
            undo,
        )
    wanted = answers.get("clusters") or []
    if isinstance(wanted, list) and wanted:
        return Interrupted(
            where,
            "an interrupted onboarding: registered in none of its clusters "
            f"({', '.join(str(c) for c in wanted)})",
            finish,
            undo,
        )
    return None


def scan(root: Path, *, skip: str | None = None) -> list[Interrupted]:
    """Every interrupted change in the infra repo at `root`; the journal's first.

    `skip` leaves out the folder of one service (the one a command is working on).
    """
    found: list[Interrupted] = []
    try:
        journal = read_journal(root)
    except OnboardError as error:
        path = journal_path(root)
        shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        found.append(Interrupted(shown, str(error)))
        journal = None
    if journal is not None:
        found.append(from_journal(journal, root))
    apps = root / "apps"
    if not apps.is_dir() or apps.is_symlink():
        return found
    listed = _listed_anywhere(root)
    for folder in sorted(p for p in apps.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name == skip or (journal is not None and folder.name == journal.service):
            continue
        if folder.is_symlink():
            continue
        if (hit := _examine(root, folder, listed)) is not None:
            found.append(hit)
    return found
