"""Copier's scratch renders of an update are told apart from real destinations."""

from __future__ import annotations

from pathlib import Path, PurePath

import pytest
import yaml
from jinja2 import Environment

from generator.copier_run.scratch import in_copier_scratch_render
from generator.jinja_ext import GitopsExtension
from tests.helpers import PROJECT

CASES = [
    ("/tmp/copier._main.old_copy.abc123/apps/web", True),
    ("/tmp/copier._main.new_copy.x_y/apps/web", True),
    ("/tmp/copier.main.old_copy.x", True),
    ("/srv/infra/apps/web", False),
    ("/srv/copier-notes/apps/web", False),
    ("/srv/infra/copier._main.old_copy", False),
]


@pytest.mark.parametrize(("folder", "scratch"), CASES)
def test_scratch_renders_are_recognised(folder: str, scratch: bool) -> None:
    assert in_copier_scratch_render(Path(folder)) is scratch
    assert in_copier_scratch_render(folder) is scratch


def test_a_relative_destination_is_judged_where_it_lies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "copier._main.new_copy.q1"
    scratch.mkdir()
    monkeypatch.chdir(scratch)
    assert in_copier_scratch_render(PurePath("apps/web"))
    monkeypatch.chdir(tmp_path)
    assert not in_copier_scratch_render(PurePath("apps/web"))


@pytest.mark.parametrize(("folder", "scratch"), CASES)
def test_the_tasks_when_skips_exactly_the_scratch_renders(folder: str, scratch: bool) -> None:
    """The `when:` of the template's task, as copier.yml writes it."""
    (task,) = yaml.safe_load((PROJECT / "copier.yml").read_text())["_tasks"]
    when = Environment(extensions=[GitopsExtension]).from_string(task["when"])
    assert when.render(_copier_conf={"dst_path": PurePath(folder)}) == str(not scratch)
