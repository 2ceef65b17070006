"""generator.fsutil: writes confined to the repo, never through a link, never half done."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator.errors import InputError
from generator.fsutil import LINK_RULE, confined, refuse_link, write_atomic, write_if_changed


def test_a_path_inside_the_repo_comes_back_under_the_resolved_root(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "via-link")  # the root itself may be reached through a link
    root = tmp_path / "via-link"
    assert confined(root, root / "apps/web/new.yaml") == real / "apps/web/new.yaml"
    assert confined(root, real / "x.yaml") == real / "x.yaml"


@pytest.mark.parametrize("outside", ["../elsewhere/x", "apps/../../x", "/etc/passwd"])
def test_a_path_outside_the_repo_is_refused(tmp_path: Path, outside: str) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    with pytest.raises(InputError, match="is outside the repo"):
        confined(root, root / outside if not outside.startswith("/") else Path(outside))


def test_a_linked_folder_or_file_inside_the_repo_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "apps/web").mkdir(parents=True)
    (root / "apps/web/a.yaml").write_text("a")
    os.symlink(root / "apps/web", root / "apps/alias")
    os.symlink(root / "apps/web/a.yaml", root / "apps/web/b.yaml")
    with pytest.raises(InputError) as folder:
        confined(root, root / "apps/alias/a.yaml")
    assert folder.value.field == "apps/alias/a.yaml"
    assert "its folder apps/alias is a symbolic link" in str(folder.value)
    assert "replace it with a regular folder" in str(folder.value)
    with pytest.raises(InputError) as file:
        confined(root, root / "apps/web/b.yaml")
    assert "is a symbolic link" in str(file.value) and LINK_RULE in str(file.value)


def test_write_atomic_writes_keeps_the_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "deep/folder/secret.yaml"
    write_atomic(path, "one\r\n", mode=0o600)
    assert path.read_bytes() == b"one\r\n"  # no newline translation
    assert path.stat().st_mode & 0o777 == 0o600
    write_atomic(path, "two\n")
    assert path.read_text() == "two\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret.yaml"]


def test_write_atomic_refuses_to_replace_a_link(tmp_path: Path) -> None:
    target = tmp_path / "target.yaml"
    target.write_text("kept")
    os.symlink(target, tmp_path / "link.yaml")
    with pytest.raises(InputError, match="is a symbolic link"):
        write_atomic(tmp_path / "link.yaml", "replaced")
    with pytest.raises(InputError):
        refuse_link(tmp_path / "link.yaml")
    assert target.read_text() == "kept"
    assert (tmp_path / "link.yaml").is_symlink()


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "file.yaml"
    path.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "\ud800")  # a lone surrogate cannot be written as UTF-8
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.yaml"]


def test_write_if_changed_writes_only_a_difference(tmp_path: Path) -> None:
    path = tmp_path / "k.yaml"
    assert write_if_changed(path, "a\n") is True
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assert write_if_changed(path, "a\n") is False
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before
    assert write_if_changed(path, "b\n") is True
    assert path.read_text() == "b\n"
