"""Two writers at once: every read-modify-write of a repo holds one advisory lock.

Two `gitops-onboard onboard` runs into one infra repo lost cluster entries in 16 of 20 rounds
(four at once: 3 of 6), every run exiting 0: each read the cluster file, added its entry and
wrote it back over the other's. Two `secrets set` on one service lost a value the same way.
Now the second writer waits, says once whom it waits for, and gives up after a bounded time
naming the holder. The Copier task that a command runs borrows that command's lock.

A few rounds run here; `scripts/stress_safety.py` runs the full count.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.cli import main
from tests.adversarial._txn import (
    GITOPS_ONBOARD,
    decrypted_keys,
    listed,
    onboarding_race,
    race,
)
from tests.helpers import WEB_ARGS, AgeKey, commit_all, git, snapshot_template, tree_bytes


@pytest.mark.parametrize(("rounds", "runs"), [(3, 2), (1, 4)])
def test_concurrent_onboardings_lose_no_cluster_entry(
    pristine_infra: Path, template_repo: Path, tmp_path: Path, rounds: int, runs: int
) -> None:
    """Each run read the cluster files, added its entry and wrote them back over the others'."""
    losses = 0
    for round_ in range(rounds):
        services = [f"svc{round_}x{i}" for i in range(runs)]
        done, lost = onboarding_race(
            pristine_infra, template_repo, tmp_path / f"r{round_}", services, plain_copier=False
        )
        assert all(run.returncode == 0 for run in done), [run.stderr for run in done]
        losses += lost
    assert losses == 0, f"{losses} cluster entries lost over {rounds} rounds of {runs}"


def test_two_plain_copier_copies_at_once_lose_no_cluster_entry(
    pristine_infra: Path, template_repo: Path, tmp_path: Path
) -> None:
    """Copier renders without a lock; the registration task takes it."""
    losses = 0
    for round_ in range(2):
        done, lost = onboarding_race(
            pristine_infra,
            template_repo,
            tmp_path / f"r{round_}",
            ["alpha", "beta"],
            plain_copier=True,
        )
        assert all(run.returncode == 0 for run in done), [run.stderr for run in done]
        losses += lost
    assert losses == 0


def test_concurrent_secrets_set_lose_no_value(
    infra_repo: Path, template_repo: Path, age_private_key: AgeKey
) -> None:
    """Pairs of `secrets set` on one service: a new key (decrypt, insert, re-encrypt) and an
    update of an existing one, at the same moment."""
    args = ["--infra", str(infra_repo), "--template", str(template_repo)]
    assert main(["onboard", *args, *WEB_ARGS, "-d", "secret_keys=[API_KEY]"]) == 0
    expected: dict[str, str] = {}
    for pair in range(6):
        keys = [f"NEW_{pair}", "API_KEY"] if pair % 2 else [f"NEW_{pair}A", f"NEW_{pair}B"]
        values = [f"value-{pair}-{i}" for i in range(2)]
        done = race(
            [
                [GITOPS_ONBOARD, "secrets", "set", "web", key, "--infra", str(infra_repo)]
                for key in keys
            ],
            stdin=values,
        )
        assert all(run.returncode == 0 for run in done), [run.stderr for run in done]
        expected.update(zip(keys, values, strict=True))
    stored = decrypted_keys(infra_repo, "web")
    lost = sorted(key for key, value in expected.items() if stored.get(key) != value)
    assert lost == [], f"lost {lost}"


HOLDER = """
import sys
from pathlib import Path
from generator.lock import repo_lock
with repo_lock(Path(sys.argv[1]), "gitops-onboard secrets set web TOKEN"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def hold_lock(root: Path) -> subprocess.Popen[str]:
    """Another process that holds the repo lock until its stdin closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    return holder


def test_a_second_writer_waits_for_the_lock_and_says_whom_it_waits_for(
    infra_repo: Path, template_repo: Path
) -> None:
    """Nothing ever waited: the second writer went ahead at once."""
    assert (
        main(["onboard", "--infra", str(infra_repo), "--template", str(template_repo), *WEB_ARGS])
        == 0
    )
    holder = hold_lock(infra_repo)
    offboard = subprocess.Popen(
        [GITOPS_ONBOARD, "offboard", "web", "--yes", "--infra", str(infra_repo)],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "GITOPS_ONBOARD_LOCK_TIMEOUT": "60"},
    )
    assert offboard.stderr is not None
    first = offboard.stderr.readline()  # blocks until the offboard says it waits
    assert "waiting for the lock held by" in first, first
    assert f"pid {holder.pid}" in first and "gitops-onboard secrets set web TOKEN" in first
    time.sleep(0.5)
    assert offboard.poll() is None, "offboard went ahead while the lock was held"
    assert (infra_repo / "apps/web").is_dir()
    assert holder.stdin is not None
    holder.stdin.close()
    holder.wait()
    _, rest = offboard.communicate(timeout=120)
    assert offboard.returncode == 0, first + rest
    assert "waiting" not in rest, "the waiting message is printed once"
    assert not (infra_repo / "apps/web").exists()


def test_a_lock_held_too_long_gives_up_naming_the_holder(
    infra_repo: Path, template_repo: Path
) -> None:
    """A writer must not wait for ever, nor give up without saying for whom it waited."""
    assert (
        main(["onboard", "--infra", str(infra_repo), "--template", str(template_repo), *WEB_ARGS])
        == 0
    )
    before = tree_bytes(infra_repo)
    holder = hold_lock(infra_repo)
    try:
        started = time.monotonic()
        done = subprocess.run(
            [GITOPS_ONBOARD, "offboard", "web", "--yes", "--infra", str(infra_repo)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "GITOPS_ONBOARD_LOCK_TIMEOUT": "1"},
        )
        elapsed = time.monotonic() - started
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, done.stderr
    assert f"pid {holder.pid}" in errors[0] and "secrets set web TOKEN" in errors[0]
    assert "GITOPS_ONBOARD_LOCK_TIMEOUT" in errors[0]
    assert elapsed < 20
    assert tree_bytes(infra_repo) == before


def test_the_copier_task_borrows_the_lock_of_the_update_that_runs_it(
    infra_repo: Path,
    template_repo: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`update` holds the infra repo's lock while Copier runs the service's task, a child
    process that takes the same lock: it must not wait for its own parent."""
    newer = snapshot_template(tmp_path / "template", "v1.0.0")
    deployment = newer / "template/service/deployment.yaml.jinja"
    deployment.write_text(
        deployment.read_text().replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 4")
    )
    commit_all(newer, "keep four revisions")
    git("tag", "v1.1.0", cwd=newer)
    assert main(["template", "allow", str(newer), "--repo", str(infra_repo)]) == 0
    assert (
        main(
            [
                "onboard",
                "--infra",
                str(infra_repo),
                "--template",
                str(newer),
                "--vcs-ref",
                "v1.0.0",
                *WEB_ARGS,
            ]
        )
        == 0
    )
    commit_all(infra_repo, "onboard web")
    monkeypatch.setenv("GITOPS_ONBOARD_LOCK_TIMEOUT", "5")
    started = time.monotonic()
    code = main(["update", str(infra_repo / "apps/web"), "--to", "v1.1.0", "--jobs", "1"])
    out, err = capfd.readouterr()
    assert code == 0, out + err
    assert "waiting" not in err
    assert time.monotonic() - started < 60
    assert "revisionHistoryLimit: 4" in (infra_repo / "apps/web/deployment.yaml").read_text()
    assert listed(infra_repo, "koala") == ["../../apps/web"]


def test_a_lock_timeout_that_is_not_a_number_is_bad_input(
    infra_repo: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in the environment is bad input (exit 2), not a silent default."""
    monkeypatch.setenv("GITOPS_ONBOARD_LOCK_TIMEOUT", "soon")
    assert main(["flux", "enable-decryption", "--infra", str(infra_repo)]) == 2
    err = capfd.readouterr().err
    assert "GITOPS_ONBOARD_LOCK_TIMEOUT: must be a number of seconds" in err
