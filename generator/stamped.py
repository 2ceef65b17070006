"""Find the stamped copies below a folder: every Copier answers file that records a template.

A stamped copy is the folder holding the answers file; its recorded `_src_path` and `_commit`
name the template version it was rendered from, and the other keys are its answers. An
answers file without them is broken, and reported as such.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.answers import parse_recorded
from generator.walk import walk_repo

__all__ = ["StampedCopy", "find_copies"]


def _is_answers_file(name: str) -> bool:
    return name.startswith(".copier-answers") and name.endswith((".yml", ".yaml"))


@dataclass(frozen=True)
class StampedCopy:
    """One folder stamped from the template, with what its answers file records."""

    folder: Path
    answers_file: str
    answers: Mapping[str, Any]

    @property
    def src_path(self) -> str:
        """The template location recorded by Copier (`_src_path`)."""
        return str(self.answers["_src_path"])

    @property
    def commit(self) -> str:
        """The template version recorded by Copier (`_commit`, a `git describe`)."""
        return str(self.answers.get("_commit") or "")

    @property
    def kind(self) -> str:
        """The `kind` answer: infra, service or app (empty when the template has none)."""
        return str(self.answers.get("kind") or "")

    @property
    def data(self) -> dict[str, Any]:
        """The answers to questions, without Copier's private keys."""
        return {k: v for k, v in self.answers.items() if not str(k).startswith("_")}


def _walk(root: Path) -> Iterator[Path]:
    for folder, _dirs, files in walk_repo(root):
        for name in files:
            if _is_answers_file(name):
                yield folder / name


def _problem(answers: Any) -> str | None:
    """What makes parsed answers unusable for Copier's update, or None."""
    if not isinstance(answers, dict):
        return "is not a mapping of answers (Copier writes one)"
    for key, what in (("_src_path", "the template"), ("_commit", "the template version")):
        if not answers.get(key):
            return f"records no {key} ({what} it was stamped from)"
    return None


def find_copies(root: Path) -> tuple[list[StampedCopy], list[tuple[Path, str]]]:
    """Every stamped copy at or below `root` sorted by folder, and the broken answers files.

    A broken answers file (not YAML, not a mapping, no `_src_path` or `_commit`) comes back
    with what is wrong with it: Copier cannot update that copy, and nothing can check it.
    """
    copies = []
    broken = []
    for path in _walk(root):
        try:
            answers = parse_recorded(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            broken.append((path, f"cannot be read: {error}"))
            continue
        except yaml.YAMLError as error:
            broken.append((path, f"is not valid YAML: {str(error).splitlines()[0]}"))
            continue
        problem = _problem(answers)
        if problem is not None:
            broken.append((path, problem))
        else:
            copies.append(StampedCopy(path.parent, path.name, answers))
    copies.sort(key=lambda c: (c.folder.as_posix(), c.answers_file))
    return copies, broken
