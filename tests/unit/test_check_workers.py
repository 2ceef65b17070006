"""The render workers of `check`: chunks in order, and a lower priority than the builds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from generator.check.findings import Finding
from generator.check.workers import WORKER_NICENESS, RenderWork
from generator.copier_run.render import TemplateRenderer
from generator.stamped import StampedCopy


def _where_and_how_nice(
    copies: list[StampedCopy], root: Path, renderer: TemplateRenderer
) -> Iterator[Finding]:
    for copy in copies:
        yield Finding(
            "probe", copy.folder.name, f"{os.getpid()} {os.getpriority(os.PRIO_PROCESS, 0)}"
        )


def test_workers_render_in_order_below_the_priority_of_the_builds(tmp_path: Path) -> None:
    copies = [StampedCopy(tmp_path / f"s{n:02}", ".copier-answers.yml", {}) for n in range(20)]
    here = os.getpriority(os.PRIO_PROCESS, 0)
    with RenderWork(_where_and_how_nice, copies, tmp_path, "fast", jobs=2) as work:
        found = work.findings()
    assert [f.path for f in found] == [c.folder.name for c in copies]
    pids = {int(f.message.split()[0]) for f in found}
    priorities = {int(f.message.split()[1]) for f in found}
    assert pids and os.getpid() not in pids  # rendered by workers (one may take every chunk)
    assert priorities == {min(here + WORKER_NICENESS, 19)}
    assert os.getpriority(os.PRIO_PROCESS, 0) == here  # this process keeps its own
