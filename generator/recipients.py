"""Key rotation: add or remove an age recipient for every secret of an infra repo.

`.sops.yaml` (and the `age_recipients` answer Copier recorded) change first; then
`sops updatekeys` re-encrypts each `*.enc.yaml`'s data key for the new recipients. Removing a
recipient also runs `sops rotate` on every file it could read, so the data key its holder may
have kept opens nothing new. Either all files are updated or, on any failure (typically: no
private key at hand), every file is restored to its bytes before the command.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from generator import sops, sopsconfig
from generator.age import recipient_problem
from generator.answers import ANSWERS_FILE
from generator.errors import InputError
from generator.fsutil import confined, write_atomic
from generator.session import writing
from generator.walk import walk_repo

__all__ = ["Rotation", "add", "encrypted_files", "remove"]


@dataclass(frozen=True)
class Rotation:
    """What a recipient change did."""

    config_changed: bool
    updated: tuple[Path, ...]
    rotated: tuple[Path, ...]


def encrypted_files(root: Path) -> list[Path]:
    """Every `*.enc.yaml` under `root`, git internals skipped.

    A linked folder (it may hide secrets the rotation would miss) or a linked `*.enc.yaml`
    (sops would rewrite its target) is an InputError.
    """
    return sorted(_walk(root.resolve()))


def _walk(root: Path) -> Iterator[Path]:
    for here, dirs, files in walk_repo(root):
        for name in dirs:
            confined(root, here / name)
        for name in files:
            if name.endswith(".enc.yaml"):
                yield confined(root, here / name)


def _check(key: str) -> None:
    if problem := recipient_problem(key):
        raise InputError("AGE_PUBLIC_KEY", problem)


def add(root: Path, key: str) -> Rotation:
    """Add `key` to `.sops.yaml` and re-encrypt every secret's data key for it."""
    _check(key)
    with writing(root, "gitops-onboard recipients add"):
        return _change(root, lambda text: sopsconfig.add_recipient(text, key), rotate=False)


def remove(root: Path, key: str) -> Rotation:
    """Remove `key` from `.sops.yaml`, drop it from every secret and rotate their data keys."""
    _check(key)
    with writing(root, "gitops-onboard recipients remove"):
        return _change(root, lambda text: sopsconfig.remove_recipient(text, key), rotate=True)


def _change(root: Path, edit: Callable[[str], str], *, rotate: bool) -> Rotation:
    config = confined(root, root / ".sops.yaml")
    if not config.is_file():
        raise InputError(".sops.yaml", f"is missing in {root}; stamp the infra repo first")
    old_config = config.read_text(encoding="utf-8")
    new_config: str = edit(old_config)
    answers = confined(root, root / ANSWERS_FILE)
    old_answers = answers.read_text(encoding="utf-8") if answers.is_file() else None
    new_answers = (
        sopsconfig.sync_answers(old_answers, sopsconfig.recipients(new_config))
        if old_answers is not None
        else None
    )
    files = encrypted_files(root)
    backup = {path: path.read_bytes() for path in files}
    try:
        if new_config != old_config:
            write_atomic(config, new_config)
        if old_answers is not None and new_answers is not None and new_answers != old_answers:
            write_atomic(answers, new_answers)
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
            results = list(pool.map(lambda p: _update(root, p, rotate), files))
    except BaseException:
        write_atomic(config, old_config)
        if old_answers is not None:
            write_atomic(answers, old_answers)
        for path, data in backup.items():
            if path.read_bytes() != data:
                write_atomic(path, data.decode("utf-8"))
        raise
    updated = tuple(path for path, changed in zip(files, results, strict=True) if changed)
    return Rotation(new_config != old_config, updated, updated if rotate else ())


def _update(root: Path, path: Path, rotate: bool) -> bool:
    changed = sops.updatekeys(path, root=root)
    if changed and rotate:
        sops.rotate(path, root=root)
    return changed
