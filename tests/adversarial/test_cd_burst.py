"""CD under load: many deploys into one infra repo at once, and builds that finish out of order.

Every deploy here is the rendered `cd.yml` deploy job, run by the workflow harness with real
bash, git, awk and ssh against a bare infra repo behind a real SSH server (on a free port),
with the retry settings the template ships. The larger run is scripts/stress_deploy.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cd_burst import BurstWorld, Outcome, burst_world, run_bursts
from tests.conftest import make_hermetic
from tests.helpers import PROJECT, git
from tests.workflow_harness import Runner, load_workflow

AWK = PROJECT / "template/shared/bump-newtag.awk"
WAIT = re.compile(r"retrying in ([0-9.]+) s")


@pytest.fixture(scope="module")
def shared_world(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> Iterator[BurstWorld]:
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("burst-home"), mp)
        with burst_world(tmp_path_factory.mktemp("burst"), template_repo, pristine_infra) as w:
            yield w


@pytest.fixture
def world(shared_world: BurstWorld) -> BurstWorld:
    """The ten services, their infra repo back at its onboarded state."""
    shared_world.reset()
    return shared_world


def _clone_app(world: BurstWorld, service: str, tmp_path: Path) -> Path:
    """A private copy of the app repo (full history, as the deploy job checks it out)."""
    app = tmp_path / f"app-{service}"
    git("clone", "-q", str(world.apps[service]), str(app), cwd=tmp_path)
    return app


def _refs(world: BurstWorld) -> str:
    return git("for-each-ref", cwd=world.remote)


def _retry_settings(world: BurstWorld) -> dict[str, Any]:
    workflow = load_workflow(next(iter(world.apps.values())) / ".gitea/workflows/cd.yml")
    env: dict[str, Any] = workflow["jobs"]["deploy"]["steps"][2]["env"]
    return {k: v for k, v in env.items() if k.startswith("PUSH_")}


def _hook_runner(world: BurstWorld, body: str, times: int, **overrides: str) -> Runner:
    """A runner whose git runs `body` (bash, in a fresh clone of the infra repo, ending in a
    push) before each of the bump's first `times` pushes, so those pushes are rejected."""
    runner = world.runner(**overrides)
    hooks = runner.root / "hooks"
    hooks.mkdir()
    counter = runner.root / "competing-pushes"
    other = runner.root / "other-clone"
    hook = hooks / "pre-push"
    hook.write_text(
        f"""#!/usr/bin/env bash
set -euo pipefail
n=$(cat '{counter}' 2>/dev/null || echo 0)
if (( n >= {times} )); then exit 0; fi
echo $(( n + 1 )) > '{counter}'
rm -rf '{other}'
git clone -q '{world.remote}' '{other}'
cd '{other}'
{body}
git -c core.hooksPath=/dev/null push -q origin HEAD:main
"""
    )
    hook.chmod(0o755)
    runner.gitconfig.write_text(f"[init]\n\tdefaultBranch = main\n[core]\n\thooksPath = {hooks}\n")
    return runner


def _set_tag_body(world: BurstWorld, service: str, tag: str) -> str:
    """Hook body: another deploy sets `service` to `tag` with the workflow's own awk program."""
    path = world.kustomization_path(service)
    return f"""image='{world.image(service)}'
awk -v image="$image" -v tag='{tag}' -f '{AWK}' '{path}' '{path}' > k.tmp
mv k.tmp '{path}'
git add '{path}'
git -c user.name=CD -c user.email=cd@example.com commit -q -m 'chore(deploy): {service} → {tag}'"""


def _note_body(n: str) -> str:
    return f"""echo "note {n}" >> NOTES.md
git add NOTES.md
git -c user.name=Someone -c user.email=someone@example.com commit -q -m 'someone else {n}'"""


def _ok(outcome: Outcome) -> None:
    assert outcome.landed, outcome.describe()


def test_ten_services_deploying_at_once_all_land_with_nothing_lost(world: BurstWorld) -> None:
    """Ten deploy jobs at once, twice. The retry used to sleep a fixed 2, 4, 6, 8 s: runs
    that collided woke together and collided again, and 15 of 50 deploys failed with
    `pushing to main failed 5 times`. Every deploy must land, none be lost, history stay
    linear, and every cluster still build."""
    tally = run_bursts(world, rounds=2)

    print(tally.line())
    assert tally.failures == [], "\n".join(tally.details)
    assert (tally.landed, tally.total) == (20, 20), tally.line()
    assert tally.lost == []
    assert tally.linear
    assert tally.unbuildable == []
    assert len(world.deploy_subjects()) == 20


def test_an_older_build_that_pushes_last_leaves_the_newer_tag(
    world: BurstWorld, tmp_path: Path
) -> None:
    """Commit B follows A; B's build finished first and deployed. A's build ends later: it
    used to push last and win, putting the older image back in production."""
    app = _clone_app(world, "api", tmp_path)
    a = world.new_commit("api", "feature A", app)
    b = world.new_commit("api", "fix on top of A", app)
    _ok(world.deploy("api", b, app))
    refs = _refs(world)

    late = world.deploy("api", a, app)

    _ok(late)
    assert f"skipped: {a} is older than the deployed {b}" in late.bump.stdout
    assert _refs(world) == refs
    assert world.deployed("api") == b


def test_an_older_build_whose_push_loses_the_race_skips_on_retry(
    world: BurstWorld, tmp_path: Path
) -> None:
    """A's bump was made on a main without B, and B's push landed just before A's: the
    retry re-applied A's tag on top of B's, because it never compared the two commits."""
    app = _clone_app(world, "billing", tmp_path)
    a = world.new_commit("billing", "feature A", app)
    b = world.new_commit("billing", "fix on top of A", app)
    runner = _hook_runner(world, _set_tag_body(world, "billing", b), times=1)

    late = world.deploy("billing", a, app, runner)

    _ok(late)
    assert "Push rejected" in late.bump.stdout
    assert f"skipped: {a} is older than the deployed {b}" in late.bump.stdout
    assert world.deployed("billing") == b
    assert world.deploy_subjects() == [f"chore(deploy): billing → {b}"]


def test_a_newer_build_replaces_an_older_tag(world: BurstWorld, tmp_path: Path) -> None:
    """The ordering check must not block the normal case: a descendant moves the tag on."""
    app = _clone_app(world, "catalog", tmp_path)
    a = world.new_commit("catalog", "feature A", app)
    b = world.new_commit("catalog", "fix on top of A", app)
    _ok(world.deploy("catalog", a, app))

    newer = world.deploy("catalog", b, app)

    _ok(newer)
    assert "skipped" not in newer.bump.stdout
    assert world.deployed("catalog") == b
    assert world.deploy_subjects()[:2] == [
        f"chore(deploy): catalog → {b}",
        f"chore(deploy): catalog → {a}",
    ]


def test_a_force_pushed_commit_replaces_the_tag_of_the_history_it_rewrote(
    world: BurstWorld, tmp_path: Path
) -> None:
    """Main was rewritten (force push): the new head shares no line with the deployed commit.
    It is deployed (it is the branch's newest intent), with a line saying what it replaced;
    refusing would leave the service stuck on discarded history."""
    app = _clone_app(world, "events", tmp_path)
    discarded = world.new_commit("events", "a commit that will be rewritten", app)
    _ok(world.deploy("events", discarded, app))
    git("reset", "-q", "--hard", "HEAD~1", cwd=app)
    rewritten = world.new_commit("events", "the rewritten commit", app)

    outcome = world.deploy("events", rewritten, app)

    _ok(outcome)
    assert f"the deployed {discarded} is not in the history of {rewritten}" in (outcome.bump.stdout)
    assert world.deployed("events") == rewritten


def test_a_shallow_checkout_warns_that_it_cannot_order_commits(
    world: BurstWorld, tmp_path: Path
) -> None:
    """A checkout without history (fetch-depth: 1) cannot tell older from newer: the deploy
    goes ahead, as push order decides, and says so instead of comparing silently wrong."""
    full = _clone_app(world, "jobs", tmp_path)
    a = world.new_commit("jobs", "feature A", full)
    b = world.new_commit("jobs", "fix on top of A", full)
    _ok(world.deploy("jobs", b, full))
    git("checkout", "-q", a, cwd=full)
    shallow = tmp_path / "shallow"
    git("clone", "-q", "--depth", "1", f"file://{full}", str(shallow), cwd=tmp_path)

    outcome = world.deploy("jobs", a, shallow)

    _ok(outcome)
    assert f"the checkout lacks the history of {a} (fetch-depth: 0)" in outcome.bump.stderr
    assert world.deployed("jobs") == a


def test_a_tag_set_by_hand_is_replaced(world: BurstWorld, tmp_path: Path) -> None:
    """A tag that names no commit (`latest`, `v1.2.3`) cannot be ordered: CD owns the field."""
    app = _clone_app(world, "feeds", tmp_path)
    runner = _hook_runner(world, _set_tag_body(world, "feeds", "v1.2.3"), times=1)
    sha = world.new_commit("feeds", "a change", app)

    outcome = world.deploy("feeds", sha, app, runner)

    _ok(outcome)
    assert world.deployed("feeds") == sha
    assert "not in the history" not in outcome.bump.stdout


def test_retry_waits_grow_exponentially_with_jitter_up_to_the_cap(
    world: BurstWorld, tmp_path: Path
) -> None:
    """Each rejected push waits a random time up to BASE·2^(n-1) s, never above MAX."""
    settings = _retry_settings(world)
    assert float(settings["PUSH_RETRY_BASE_SECONDS"]) > 0
    assert float(settings["PUSH_RETRY_MAX_SECONDS"]) >= float(settings["PUSH_RETRY_BASE_SECONDS"])
    assert int(settings["PUSH_RETRY_BUDGET_SECONDS"]) > 0
    base, cap = 0.02, 0.1
    waits: list[list[float]] = []
    for run in range(3):
        (tmp_path / str(run)).mkdir()
        app = _clone_app(world, "gateway", tmp_path / str(run))
        runner = _hook_runner(
            world,
            _note_body(str(run)),
            times=5,
            PUSH_RETRY_BASE_SECONDS=str(base),
            PUSH_RETRY_MAX_SECONDS=str(cap),
        )
        outcome = world.deploy(
            "gateway", world.new_commit("gateway", f"run {run}", app), app, runner
        )
        _ok(outcome)
        waits.append([float(w) for w in WAIT.findall(outcome.bump.stdout)])
    for series in waits:
        assert len(series) == 5
        for n, wait in enumerate(series, start=1):
            assert 0 <= wait <= min(cap, base * 2 ** (n - 1)) + 1e-9, series
    assert len({w for series in waits for w in series}) > 5, "the waits are not random"


def test_retries_stop_when_the_time_budget_is_spent(world: BurstWorld, tmp_path: Path) -> None:
    """With someone always pushing first, the job gives up once its time budget is spent,
    however many attempts are left, and says so."""
    app = _clone_app(world, "health", tmp_path)
    runner = _hook_runner(
        world,
        _note_body("$n"),
        times=1000,
        PUSH_ATTEMPTS="1000",
        PUSH_RETRY_BASE_SECONDS="0.4",
        PUSH_RETRY_MAX_SECONDS="0.4",
        PUSH_RETRY_BUDGET_SECONDS="2",
    )
    runner.timeout = 60
    started = time.monotonic()

    outcome = world.deploy("health", world.new_commit("health", "a change", app), app, runner)

    elapsed = time.monotonic() - started
    assert [r.returncode for r in outcome.results] == [0, 1]
    assert "the 2 s retry budget (PUSH_RETRY_BUDGET_SECONDS) is spent" in outcome.bump.stderr
    assert elapsed < 30
    assert not any("health" in s for s in world.deploy_subjects())


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("PUSH_RETRY_BASE_SECONDS", "1s"),
        ("PUSH_RETRY_MAX_SECONDS", "-3"),
        ("PUSH_RETRY_BUDGET_SECONDS", "2.5"),
        ("PUSH_ATTEMPTS", "0"),
    ],
)
def test_a_bad_retry_setting_fails_before_the_infra_repo_is_touched(
    world: BurstWorld, tmp_path: Path, setting: str, value: str
) -> None:
    """A typo in the retry settings used to surface only after a rejected push, as a bash
    arithmetic error; it must stop the job at once, naming the setting."""
    app = _clone_app(world, "inbox", tmp_path)
    runner = world.runner(**{setting: value})
    refs = _refs(world)

    outcome = world.deploy("inbox", world.new_commit("inbox", "a change", app), app, runner)

    assert [r.returncode for r in outcome.results] == [0, 1]
    assert f"{setting} must be" in outcome.bump.stderr
    assert _refs(world) == refs
