"""A template version is cloned once per process, not once per Copier run.

For a template in a local git repository Copier clones the repository for every run: `git
clone`, `git checkout`, then `git submodule update`, a shell script of about fifteen
processes. That is about 40 ms of git for each copy, pretend run and update side, and
onboarding alone runs Copier twice. `clone_once()` wraps Copier's `clone` so that a clone it
made before in this process is written out again from memory when git would make the same
one: the same repository, the same ref asked for, and

- the same refs in the repository and the same HEAD (`git show-ref --head`, `git
  symbolic-ref HEAD`): a moved or added tag, or a new commit on a branch, clones anew;
- the same git configuration (`git config --list` in the repository: system, global and the
  repository's own, compared by what they say, not by which files say it) and the same
  `PATH` and `GIT_*` variables but those naming the configuration files.

Not cached: the ref `HEAD` (Copier adds a local template's uncommitted changes to that
clone), a source that is not a local folder (Copier keeps remote templates in a mirror of
its own), a clone with anything but files, folders and symlinks, or one larger than
`MAX_BYTES`. Errors are never cached. The clone is kept in memory, never in a folder, so a
killed process leaves nothing more behind than Copier's own clone; each run gets a fresh
copy, so whatever a run does to its clone is not seen by the next. At most `MAX_ENTRIES`
clones are kept, least recently used out first.

The template's Jinja extension turns it on, as it does the compile cache.
"""

from __future__ import annotations

import functools
import os
import stat
import subprocess
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.copier_run.lru import Lru
from generator.copier_run.template_hook import wrap_template_function

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "clear", "clone_once"]

MAX_ENTRIES = 8
MAX_BYTES = 64 * 1024 * 1024

_MARKER = "_gitops_clones_once"

# Where git finds its configuration files: `git config --list` reads them, so the key holds
# their settings already, and a command that points them at a copy of its own (as each
# `gitops-onboard` test does) still finds its clone.
_READ_BY_CONFIG_LIST = frozenset({"GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM"})


@dataclass(frozen=True)
class _Entry:
    path: str  # relative, POSIX
    kind: str  # "dir", "file" or "link"
    mode: int
    payload: bytes | str = b""


_clones: Lru[Hashable, tuple[_Entry, ...]] = Lru()

Clone = Callable[..., str]


def _git(source: str, *args: str) -> tuple[int, bytes]:
    done = subprocess.run(
        ["git", "-C", source, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    return done.returncode, done.stdout


def _state(source: str, ref: str) -> Hashable | None:
    """Everything that decides what `git clone` of `source` and a checkout of `ref` make."""
    code, refs = _git(source, "show-ref", "--head")
    if code != 0:
        return None
    code, config = _git(source, "config", "--list", "-z")
    if code != 0:
        return None
    head_code, head = _git(source, "symbolic-ref", "-q", "HEAD")
    variables = tuple(
        sorted(
            (name, value)
            for name, value in os.environ.items()
            if (name.startswith("GIT_") and name not in _READ_BY_CONFIG_LIST) or name == "PATH"
        )
    )
    return (os.path.realpath(source), ref, refs, config, head_code, head, variables)


def _snapshot(location: str) -> tuple[_Entry, ...] | None:
    """Every entry under `location`, folders before what they hold; None when not cacheable."""
    entries: list[_Entry] = []
    size = 0
    for folder, folders, files in os.walk(location):
        for name in sorted(folders) + sorted(files):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, location).replace(os.sep, "/")
            info = os.lstat(path)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                entries.append(_Entry(relative, "link", mode, os.readlink(path)))
            elif stat.S_ISDIR(info.st_mode):
                entries.append(_Entry(relative, "dir", mode))
            elif stat.S_ISREG(info.st_mode):
                size += info.st_size
                if size > MAX_BYTES:
                    return None
                entries.append(_Entry(relative, "file", mode, Path(path).read_bytes()))
            else:
                return None
    entries.sort(key=lambda entry: entry.path.split("/"))
    return tuple(entries)


def _write(entries: tuple[_Entry, ...], location: str) -> None:
    root = Path(location)
    for entry in entries:
        path = root / entry.path
        if entry.kind == "dir":
            path.mkdir(mode=0o700)
        elif entry.kind == "link":
            os.symlink(entry.payload, path)
        else:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(entry.payload if isinstance(entry.payload, bytes) else b"")
    # Modes last, deepest first: a read-only folder would refuse what goes into it.
    for entry in reversed(entries):
        if entry.kind != "link":
            os.chmod(root / entry.path, entry.mode)


def _cacheable(url: Any, ref: Any, location: Any) -> bool:
    return (
        isinstance(url, str)
        and isinstance(ref, str)
        and ref != "HEAD"
        and not ref.startswith("-")
        and isinstance(location, str)
        and os.path.isdir(url)
        and os.path.isdir(location)
        and not os.listdir(location)
    )


def _cached(clone: Clone) -> Clone:
    @functools.wraps(clone)
    def clone_cached(url: str, ref: str = "HEAD", location: str | None = None) -> str:
        real: Clone = clone_cached.__wrapped__
        if not _cacheable(url, ref, location):
            return real(url, ref, location)
        assert location is not None
        key = _state(url, ref)
        if key is None:
            return real(url, ref, location)
        entries = _clones.get(key)
        if entries is not None:
            _write(entries, location)
            return location
        result = real(url, ref, location)
        taken = (
            _snapshot(result) if os.path.realpath(result) == os.path.realpath(location) else None
        )
        if taken is not None and _state(url, ref) == key:
            _clones.put(key, taken, MAX_ENTRIES)
        return result

    return clone_cached


def clone_once() -> None:
    """Route Copier's template clones through the cache (once; a no-op after)."""
    wrap_template_function("clone", _cached, _MARKER)


def clear() -> None:
    """Forget every clone."""
    _clones.clear()
