"""How many processes `update` renders in (`generator.fast_update.render_processes`)."""

from __future__ import annotations

import pytest

from generator.fast_update import AUTO_PARALLEL_FROM, default_jobs, render_processes


def test_a_few_copies_render_in_the_command_itself() -> None:
    assert render_processes(0, None) == 1
    assert render_processes(AUTO_PARALLEL_FROM - 1, None) == 1


def test_a_fleet_renders_on_up_to_four_cores() -> None:
    assert render_processes(AUTO_PARALLEL_FROM, None) == default_jobs()
    assert 1 <= default_jobs() <= 4


@pytest.mark.parametrize("jobs", [1, 2, 7])
@pytest.mark.parametrize("copies", [1, AUTO_PARALLEL_FROM * 10])
def test_jobs_given_are_the_processes_used(copies: int, jobs: int) -> None:
    assert render_processes(copies, jobs) == jobs
