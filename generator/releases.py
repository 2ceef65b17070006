"""Staleness: whether a newer template release is out than the version a copy recorded.

Releases are the template repo's tags that parse as PEP 440 versions, prereleases excluded,
ordered as PEP 440 orders them — the rule `copier update` and `copier check-update` use.
"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.version import InvalidVersion, Version

from generator.errors import OnboardError, ToolError
from generator.git import git

__all__ = [
    "TemplateUnreachable",
    "latest_release",
    "recorded_tag",
    "recorded_version",
    "release_tags",
    "releases",
    "template_tags",
]

_DESCRIBE = re.compile(r"^(?P<base>.+)-(?P<count>\d+)-g(?P<hash>[0-9a-f]+)$")


class TemplateUnreachable(OnboardError):
    """git could not list the template's tags (moved, deleted, no access)."""


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


def recorded_tag(commit: str) -> str | None:
    """The tag a recorded `_commit` names (`v1.2.0`, or the base of `v1.2.0-3-gabc1234`).

    None when `_commit` is no version at all (a bare commit hash).
    """
    if _version(commit) is not None:
        return commit
    match = _DESCRIBE.match(commit)
    if match and _version(match["base"]) is not None:
        return match["base"]
    return None


def _git_reason(error: ToolError) -> str:
    """The first `fatal:` line git printed (its last line is often boilerplate)."""
    lines = [line.strip() for line in error.stderr.splitlines() if line.strip()]
    fatal = next((line for line in lines if line.startswith("fatal:")), None)
    return fatal or (lines[0] if lines else f"exit {error.returncode}")


def template_tags(src_path: str, *, cwd: Path) -> list[str]:
    """Every tag of the template at `src_path`; `TemplateUnreachable` when git cannot read it."""
    try:
        output = git("ls-remote", "--tags", "--refs", "--", _ls_remote_target(src_path), cwd=cwd)
    except ToolError as error:
        raise TemplateUnreachable(
            f"the template {src_path} could not be read: {_git_reason(error)}"
        ) from None
    return [line.split("\t", 1)[1].removeprefix("refs/tags/") for line in output.splitlines()]


def releases(tags: list[str]) -> list[str]:
    """The release tags among `tags`, newest first."""
    found = [
        (version, tag)
        for tag in tags
        if (version := _version(tag)) is not None and not version.is_prerelease
    ]
    return [tag for _version_, tag in sorted(found, reverse=True)]


def release_tags(src_path: str, *, cwd: Path) -> list[str]:
    """The release tags of the template at `src_path`, newest first."""
    return releases(template_tags(src_path, cwd=cwd))


def latest_release(src_path: str, *, cwd: Path) -> str | None:
    """The newest release tag of the template, or None when it has none."""
    tags = release_tags(src_path, cwd=cwd)
    return tags[0] if tags else None
