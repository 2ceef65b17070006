"""A template version cloned once per process (`generator.copier_run.clone_cache`).

Each test clones real git repositories through Copier's own `clone` with the cache
installed, and counts the clones git really makes.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from copier import _template
from copier._template import Template

from generator.copier_run import clone_cache
from tests.helpers import commit_all, git


@pytest.fixture
def clones(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """The (source, ref) of each clone git really makes; the cache starts empty."""
    clone_cache.clone_once()
    clone_cache.clear()
    cached = _template.clone  # type: ignore[attr-defined]
    real: Callable[..., str] = cached.__wrapped__
    made: list[tuple[str, str]] = []

    def counting(url: str, ref: str = "HEAD", location: str | None = None) -> str:
        made.append((url, ref))
        return real(url, ref, location)

    monkeypatch.setattr(cached, "__wrapped__", counting)
    yield made
    clone_cache.clear()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A template repository: a file, an executable script, a symlink; tagged v1."""
    repo = tmp_path / "source"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    (repo / "copier.yml").write_text("name:\n  type: str\n")
    (repo / "run.sh").write_text("#!/bin/sh\necho v1\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "docs").mkdir()
    (repo / "docs/README.md").write_text("v1\n")
    (repo / "link").symlink_to("docs/README.md")
    commit_all(repo, "v1")
    git("tag", "v1", cwd=repo)
    return repo


def clone(repo: Path, ref: str) -> Path:
    location = tempfile.mkdtemp(dir=repo.parent)
    cached: Callable[..., str] = _template.clone  # type: ignore[attr-defined]
    return Path(cached(str(repo), ref, location=location))


def tree(root: Path) -> dict[str, Any]:
    """Every entry but git's reflogs (they hold the time of the clone): mode and content."""
    found: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(".git/logs"):
            continue
        info = path.lstat()
        if path.is_symlink():
            found[relative] = ("link", os.readlink(path))
        elif path.is_dir():
            found[relative] = ("dir", stat.S_IMODE(info.st_mode))
        else:
            found[relative] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return found


def test_the_same_version_again_is_written_from_memory_as_git_made_it(
    clones: list[tuple[str, str]], source: Path
) -> None:
    first = clone(source, "v1")
    second = clone(source, "v1")
    assert clones == [(str(source), "v1")]
    assert first != second
    assert tree(second) == tree(first)
    assert (second / "run.sh").stat().st_mode & 0o111
    assert os.readlink(second / "link") == "docs/README.md"
    assert git("status", "--porcelain", cwd=second).strip() == ""
    assert git("rev-parse", "HEAD", cwd=second) == git("rev-parse", "v1", cwd=source)
    assert git("describe", "--tags", "--always", cwd=second).strip() == "v1"
    assert git("ls-files", "-s", "run.sh", cwd=second).startswith("100755")


def test_what_a_run_does_to_its_clone_is_not_seen_by_the_next(
    clones: list[tuple[str, str]], source: Path
) -> None:
    first = clone(source, "v1")
    expected = tree(first)
    (first / "docs/README.md").write_text("changed by a run\n")
    (first / "extra").write_text("left by a run\n")
    (first / "run.sh").unlink()
    assert tree(clone(source, "v1")) == expected
    assert len(clones) == 1


@pytest.mark.parametrize(
    "change",
    [
        "tag moved",
        "tag added on the same commit",
        "commit on the branch",
        "repository setting",
        "global git setting",
        "GIT_ variable",
    ],
)
def test_a_change_git_would_see_clones_anew(
    clones: list[tuple[str, str]],
    source: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    clone(source, "v1")
    ref = "v1"
    if change == "tag moved":
        (source / "docs/README.md").write_text("v1, fixed\n")
        commit_all(source, "fix")
        git("tag", "-f", "v1", cwd=source)
    elif change == "tag added on the same commit":
        git("tag", "v1.0.0", "v1", cwd=source)
    elif change == "commit on the branch":
        ref = git("symbolic-ref", "--short", "HEAD", cwd=source).strip()
        clone(source, ref)
        (source / "docs/README.md").write_text("later\n")
        commit_all(source, "later")
    elif change == "repository setting":
        git("config", "uploadpack.allowFilter", "false", cwd=source)
    elif change == "global git setting":
        config = Path(os.environ["GIT_CONFIG_GLOBAL"])
        config.write_text(config.read_text() + "[core]\n\tbigFileThreshold = 1m\n")
    else:
        monkeypatch.setenv("GIT_TEMPLATE_DIR", str(tmp_path))
    again = clone(source, ref)
    assert clones[-1] == (str(source), ref)
    assert len(clones) == (3 if change == "commit on the branch" else 2)
    if change == "tag moved":
        assert (again / "docs/README.md").read_text() == "v1, fixed\n"
    if change == "tag added on the same commit":
        assert git("describe", "--tags", "--always", cwd=again).strip() in ("v1", "v1.0.0")
    if change == "commit on the branch":
        assert (again / "docs/README.md").read_text() == "later\n"


def test_head_of_a_local_template_is_cloned_each_time_with_its_uncommitted_changes(
    clones: list[tuple[str, str]], source: Path
) -> None:
    for text in ("draft 1\n", "draft 2\n"):
        (source / "docs/README.md").write_text(text)
        with pytest.warns(UserWarning, match="Dirty template changes"):
            assert (clone(source, "HEAD") / "docs/README.md").read_text() == text
    assert len(clones) == 2


def test_a_ref_that_does_not_exist_fails_each_time(
    clones: list[tuple[str, str]], source: Path
) -> None:
    for _ in range(2):
        with pytest.raises(Exception, match="v9"):
            clone(source, "v9")
    assert len(clones) == 2


def test_nothing_is_kept_in_a_folder(
    clones: list[tuple[str, str]], source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for _ in range(2):
        template = Template(url=str(source), ref="v1")
        assert template.config_data == {}
        assert (template.local_abspath / "copier.yml").is_file()
        assert template.local_abspath.is_relative_to(scratch)
        template._cleanup()
        assert list(scratch.iterdir()) == []
    assert len(clones) == 1


def test_the_least_recently_used_clone_makes_room_and_a_large_one_is_not_kept(
    clones: list[tuple[str, str]], source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clone_cache, "MAX_ENTRIES", 2)
    for ref in ("v2", "v3"):
        (source / "docs/README.md").write_text(f"{ref}\n")
        commit_all(source, ref)
        git("tag", ref, cwd=source)
    for ref in ("v1", "v2", "v3", "v3", "v2"):
        clone(source, ref)
    assert [ref for _, ref in clones] == ["v1", "v2", "v3"]
    clone(source, "v1")
    assert len(clones) == 4
    clone_cache.clear()
    monkeypatch.setattr(clone_cache, "MAX_BYTES", 10)
    clone(source, "v1")
    clone(source, "v1")
    assert len(clones) == 6


def test_installing_twice_wraps_once() -> None:
    clone_cache.clone_once()
    clone_cache.clone_once()
    cached = _template.clone  # type: ignore[attr-defined]
    assert not getattr(cached.__wrapped__, "_gitops_clones_once", False)


def test_a_clone_made_while_the_repository_changed_is_not_kept(
    clones: list[tuple[str, str]], source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = git("rev-parse", "v1", cwd=source).strip()
    (source / "docs/README.md").write_text("v1, moved during the clone\n")
    commit_all(source, "moved")
    git("tag", "-f", "v1", original, cwd=source)
    cached = _template.clone  # type: ignore[attr-defined]
    counting: Callable[..., str] = cached.__wrapped__

    def moving_the_tag_first(url: str, ref: str = "HEAD", location: str | None = None) -> str:
        git("tag", "-f", "v1", "HEAD", cwd=source)
        return counting(url, ref, location)

    monkeypatch.setattr(cached, "__wrapped__", moving_the_tag_first)
    moved = clone(source, "v1")
    assert (moved / "docs/README.md").read_text() == "v1, moved during the clone\n"
    monkeypatch.setattr(cached, "__wrapped__", counting)
    git("tag", "-f", "v1", original, cwd=source)
    assert (clone(source, "v1") / "docs/README.md").read_text() == "v1\n"
    assert len(clones) == 2


def test_another_config_file_with_the_same_settings_is_the_same_clone(
    clones: list[tuple[str, str]], source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each command (and each test) may point GIT_CONFIG_GLOBAL at a file of its own: git
    reads what the file says, and so does the key, not where the file is."""
    clone(source, "v1")
    elsewhere = tmp_path / "elsewhere.gitconfig"
    elsewhere.write_text(Path(os.environ["GIT_CONFIG_GLOBAL"]).read_text())
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(elsewhere))
    clone(source, "v1")
    assert len(clones) == 1
    elsewhere.write_text(elsewhere.read_text() + "[core]\n\tbigFileThreshold = 1m\n")
    clone(source, "v1")
    assert len(clones) == 2
