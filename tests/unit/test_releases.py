"""generator.releases: which tags are releases, in which order, and what a copy recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.version import Version

from generator.releases import (
    TemplateUnreachable,
    latest_release,
    recorded_tag,
    recorded_version,
    release_tags,
    releases,
)
from tests.helpers import commit_all, git


def test_releases_are_the_pep_440_tags_newest_first_without_prereleases() -> None:
    tags = ["v1.0.0", "v1.10.0", "v1.9.0", "v2.0.0rc1", "latest", "v1.2", "1.10.1", "v2.0.0.dev1"]
    assert releases(tags) == ["1.10.1", "v1.10.0", "v1.9.0", "v1.2", "v1.0.0"]
    assert releases([]) == []


@pytest.mark.parametrize(
    ("commit", "version", "tag"),
    [
        ("v1.2.0", Version("1.2.0"), "v1.2.0"),
        ("v1.2.0-3-gabc1234", Version("1.2.0.post3+abc1234"), "v1.2.0"),
        ("abc1234", None, None),
        ("nightly-3-gabc1234", None, None),
    ],
)
def test_what_a_recorded_commit_names(
    commit: str, version: Version | None, tag: str | None
) -> None:
    assert recorded_version(commit) == version
    assert recorded_tag(commit) == tag


def test_a_describe_name_sorts_after_its_tag_and_before_the_next() -> None:
    described = recorded_version("v1.2.0-3-gabc1234")
    assert described is not None
    assert Version("1.2.0") < described < Version("1.2.1")


def test_release_tags_of_a_template_repo(tmp_path: Path) -> None:
    repo = tmp_path / "template"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    for tag in ("v1.0.0", "v1.1.0rc1", "v1.1.0", "wip"):
        commit_all(repo, tag)
        git("tag", tag, cwd=repo)
    assert release_tags(str(repo), cwd=tmp_path) == ["v1.1.0", "v1.0.0"]
    assert latest_release(str(repo), cwd=tmp_path) == "v1.1.0"


def test_a_template_without_releases_has_no_latest(tmp_path: Path) -> None:
    repo = tmp_path / "template"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    commit_all(repo, "first")
    assert latest_release(str(repo), cwd=tmp_path) is None


def test_an_unreachable_template_names_gits_reason(tmp_path: Path) -> None:
    with pytest.raises(TemplateUnreachable) as caught:
        release_tags(str(tmp_path / "gone"), cwd=tmp_path)
    message = str(caught.value)
    assert message.startswith(f"the template {tmp_path / 'gone'} could not be read: fatal:")
