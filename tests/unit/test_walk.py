"""generator.walk: the one repo walker and its one set of skipped folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator.walk import SKIPPED_DIRS, every_entry, repo_files, walk_repo


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)


def test_every_file_in_sorted_order_without_the_skipped_folders(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "b.yaml",
        "a.yaml",
        "apps/web/secrets.enc.yaml",
        "apps/api/kustomization.yaml",
        *(f"{skipped}/x/secrets.enc.yaml" for skipped in sorted(SKIPPED_DIRS)),
        "apps/web/node_modules/pkg/secrets.enc.yaml",
    )
    found = [p.relative_to(tmp_path).as_posix() for p in repo_files(tmp_path)]
    assert found == [
        "a.yaml",
        "b.yaml",
        "apps/api/kustomization.yaml",
        "apps/web/secrets.enc.yaml",
    ]


@pytest.mark.parametrize("skipped", sorted(SKIPPED_DIRS))
def test_a_file_named_like_a_skipped_folder_is_still_found(tmp_path: Path, skipped: str) -> None:
    _touch(tmp_path, skipped)
    assert list(repo_files(tmp_path)) == [tmp_path / skipped]


def test_skip_leaves_out_a_folder_and_everything_below_it(tmp_path: Path) -> None:
    _touch(tmp_path, "keep/a", "drop/b", "drop/deeper/c", "keep/drop/d")
    found = [
        p.relative_to(tmp_path).as_posix() for p in repo_files(tmp_path, skip=[tmp_path / "drop"])
    ]
    assert found == ["keep/a", "keep/drop/d"]


def test_linked_folders_are_not_followed(tmp_path: Path) -> None:
    _touch(tmp_path, "real/a")
    os.symlink(tmp_path / "real", tmp_path / "link")
    folders = [folder for folder, _dirs, _files in walk_repo(tmp_path)]
    assert folders == [tmp_path, tmp_path / "real"]
    assert list(repo_files(tmp_path)) == [tmp_path / "real/a"]


def test_walk_yields_each_folder_with_its_sorted_names(tmp_path: Path) -> None:
    _touch(tmp_path, "z", "m", "sub/y", "sub/x", ".git/HEAD")
    assert list(walk_repo(tmp_path)) == [
        (tmp_path, ["sub"], ["m", "z"]),
        (tmp_path / "sub", [], ["x", "y"]),
    ]


def test_every_entry_sees_skipped_folders_and_links_without_following_them(
    tmp_path: Path,
) -> None:
    _touch(tmp_path, "a.yaml", ".git/HEAD", "local/kustomization.yaml")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    _touch(outside, "secret.yaml")
    (tmp_path / "linked").symlink_to(outside, target_is_directory=True)
    found = [p.relative_to(tmp_path).as_posix() for p in every_entry(tmp_path)]
    assert found == [
        ".git",
        "a.yaml",
        "linked",
        "local",
        ".git/HEAD",
        "local/kustomization.yaml",
    ]
