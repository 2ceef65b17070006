"""Staleness: whether a newer template release is out than the version a copy recorded.

Releases are the template repo's tags that parse as PEP 440 versions, prereleases excluded,
ordered as PEP 440 orders them — the rule `copier update` and `copier check-update` use.
"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.version import InvalidVersion, Version

from generator.git import git

__all__ = ["latest_release", "recorded_version", "release_tags"]

_DESCRIBE = re.compile(r"^(?P<base>.+)-(?P<count>\d+)-g(?P<hash>[0-9a-f]+)$")


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def recorded_version(commit: str) -> Version | None:
    """The PEP 440 version of a recorded `_commit` (`v1.2.0`, or `v1.2.0-3-gabc1234`)."""
    exact = _version(commit)
    if exact is not None:
        return exact
    match = _DESCRIBE.match(commit)
    if match:
        return _version(f"{match['base']}.post{match['count']}+{match['hash']}")
    return None


def _ls_remote_target(src_path: str) -> str:
    path = Path(src_path).expanduser()
    if "://" not in src_path and not src_path.startswith("git@") and path.exists():
        return path.resolve().as_posix()
    return src_path.removeprefix("git+")


def release_tags(src_path: str, *, cwd: Path) -> list[str]:
    """The release tags of the template at `src_path`, newest first."""
    output = git("ls-remote", "--tags", "--refs", "--", _ls_remote_target(src_path), cwd=cwd)
    tags = [line.split("\t", 1)[1].removeprefix("refs/tags/") for line in output.splitlines()]
    releases = [
        (version, tag)
        for tag in tags
        if (version := _version(tag)) is not None and not version.is_prerelease
    ]
    return [tag for _version_, tag in sorted(releases, reverse=True)]


def latest_release(src_path: str, *, cwd: Path) -> str | None:
    """The newest release tag of the template, or None when it has none."""
    tags = release_tags(src_path, cwd=cwd)
    return tags[0] if tags else None
