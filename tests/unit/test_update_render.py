"""generator.copier_run.update_render: which templates the fast update renders itself."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from copier._template import Template

from generator.copier_run.update_render import _known_task


def test_the_templates_own_task_is_known_with_its_condition(template_repo: Path) -> None:
    """Edit the task or its `when:` in copier.yml, and the fast path must learn it here first
    (else every update falls back to Copier)."""
    tasks = Template(url=str(template_repo)).tasks
    assert tasks and all(_known_task(task) for task in tasks), tasks


def test_a_task_under_another_condition_is_not_the_templates_own(template_repo: Path) -> None:
    (task,) = Template(url=str(template_repo)).tasks
    assert not _known_task(dataclasses.replace(task, condition="{{ kind == 'infra' }}"))
    assert not _known_task(dataclasses.replace(task, cmd=[*task.cmd, "--extra"]))
