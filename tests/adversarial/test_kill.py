"""`kill -9` at any moment: the repo is as before, fully onboarded, or the next command says so.

48 of 104 kills of `gitops-onboard onboard` and 25 of 45 kills of `copier copy --trust` left
`apps/<svc>/` on disk but registered in no cluster; onboarding again was refused and the
suggested `copier update` failed; once a truncated answers file made Copier crash. Now every
multi-file change writes a journal first, and `check` and every writing command recognise an
interrupted onboarding (with or without a journal) in one line that names the command that
finishes it (`gitops-onboard onboard --resume <svc>`) or undoes it (`offboard <svc>`).

A bounded number of kills run here, each followed by the offered repair; the larger run is
`scripts/stress_safety.py`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from generator.check import check
from generator.cli import main
from tests.adversarial._txn import (
    FIRST_FILE,
    ONBOARDED,
    PLAN_WRITE,
    UNREPORTED,
    KillTally,
    answers,
    copier_argv,
    journal_file,
    kill_round,
    listed,
    onboard_argv,
    reference_onboarding,
    run_cli,
    same_onboarding,
)
from tests.helpers import tree_bytes

KILLS_PER_PATH = 5
PLAN_KILLS = (0.0, 0.003, 0.006, 0.012)


@pytest.mark.parametrize("plain_copier", [False, True], ids=["gitops-onboard", "copier-copy"])
def test_kill_9_at_spread_moments_leaves_nothing_unreported(
    pristine_infra: Path, template_repo: Path, tmp_path: Path, plain_copier: bool
) -> None:
    """Kills spread over the writing phase (from Copier's first file to past the end), then
    a few in the milliseconds the plan is written; each state repaired as offered."""
    reference = reference_onboarding(
        pristine_infra, template_repo, tmp_path / "ref", plain_copier=plain_copier
    )
    moments = [(delay, FIRST_FILE) for delay in reference.spread_writing(KILLS_PER_PATH)]
    moments += [(delay, PLAN_WRITE[plain_copier]) for delay in PLAN_KILLS]
    tally = KillTally()
    problems = []
    cut_short = 0
    for index, (delay, after) in enumerate(moments):
        outcome = kill_round(
            pristine_infra,
            template_repo,
            tmp_path / f"k{index}",
            reference.tree,
            plain_copier=plain_copier,
            delay=delay,
            prefer="resume" if index % 2 else "offboard",
            after=after,
        )
        tally.add(outcome.state, outcome.next_command or outcome.check_says)
        cut_short += index < KILLS_PER_PATH and outcome.state != ONBOARDED
        if outcome.repair_problem:
            problems.append(f"{delay:.3f}s after {after}: {outcome.repair_problem}")
    print(tally.summary())
    assert tally.states.get(UNREPORTED, 0) == 0, tally.examples
    assert problems == []
    # The spread kills land in the writing phase (all but the last, past its end, as a
    # rule): kills that only ever found the work done would prove nothing.
    assert cut_short >= 2, f"{cut_short} of {KILLS_PER_PATH} kills cut the onboarding short"


def wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, "finished before the moment to kill it"
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_killed_right_after_its_journal_every_other_writer_is_told_and_refused(
    infra_repo: Path, template_repo: Path
) -> None:
    """Killed with the journal written and Copier rendering: another service's onboarding,
    a secret and `flux enable-decryption` each refuse in one line naming resume and undo."""
    proc = subprocess.Popen(
        onboard_argv(infra_repo, template_repo, "web"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for(infra_repo / "apps/web", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert journal_file(infra_repo).is_file()
    state = tree_bytes(infra_repo)
    for argv in (
        onboard_argv(infra_repo, template_repo, "api")[1:],
        ["flux", "enable-decryption", "--infra", str(infra_repo)],
        [
            "pull-secret",
            "set",
            "--registry",
            "r.example.com",
            "--username",
            "u",
            "--infra",
            str(infra_repo),
        ],
    ):
        done = run_cli(*argv, stdin="registry-token\n")
        lines = done.stderr.splitlines()
        assert done.returncode == 1, done.stderr
        assert len(lines) == 1, done.stderr
        assert "interrupted" in lines[0] and "gitops-onboard onboard --resume web" in lines[0]
        assert "gitops-onboard offboard web" in lines[0]
    assert tree_bytes(infra_repo) == state
    report = check(infra_repo, offline=True)
    assert [f.path for f in report.findings if f.check == "interrupted"] == ["apps/web"]
    assert run_cli("onboard", "--infra", str(infra_repo), "--resume", "web").returncode == 0
    assert not journal_file(infra_repo).exists()
    assert listed(infra_repo, "koala") == ["../../apps/web"]
    assert listed(infra_repo, "iguana") == ["../../apps/web"]
    assert not [f for f in check(infra_repo, offline=True).findings if f.check == "interrupted"]


def test_a_rendered_but_unregistered_service_is_reported_and_resumed(
    infra_repo: Path,
    template_repo: Path,
    pristine_infra: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Copier rendered `apps/web/`, then died before its task: no journal, no registration."""
    reference = reference_onboarding(
        pristine_infra, template_repo, tmp_path / "ref", plain_copier=True
    ).tree
    argv = copier_argv(infra_repo, template_repo, "web")
    subprocess.run([*argv[:3], "--skip-tasks", *argv[3:]], check=True, capture_output=True)
    assert listed(infra_repo, "koala") == []
    findings = [f for f in check(infra_repo, offline=True).findings if f.check == "interrupted"]
    assert len(findings) == 1 and "gitops-onboard onboard --resume web" in findings[0].fix
    code = main(
        ["onboard", "--infra", str(infra_repo), "--template", str(template_repo), *answers("web")]
    )
    err = capfd.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "interrupted" in err and "--resume web" in err
    assert main(["onboard", "--infra", str(infra_repo), "--resume", "web"]) == 0
    assert same_onboarding(infra_repo, reference)


def test_a_half_rendered_folder_without_answers_is_reported_and_undone(
    infra_repo: Path, template_repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Copier died mid-render before writing the answers file: only undoing is possible."""
    before = tree_bytes(infra_repo)
    folder = infra_repo / "apps/web"
    folder.mkdir(parents=True)
    (folder / "deployment.yaml").write_text("")
    (folder / "service.yaml").write_text("apiVersion: v1\nkind: Service\n")
    findings = [f for f in check(infra_repo, offline=True).findings if f.path == "apps/web"]
    assert [f.check for f in findings] == ["interrupted"], findings
    assert "gitops-onboard offboard web" in findings[0].fix
    # Another service can still be onboarded; the command says what it saw, in one line.
    code = main(
        ["onboard", "--infra", str(infra_repo), "--template", str(template_repo), *answers("api")]
    )
    err = capfd.readouterr().err
    assert code == 0
    notes = [line for line in err.splitlines() if "interrupted" in line]
    assert len(notes) == 1 and "gitops-onboard offboard web" in notes[0], err
    assert main(["offboard", "web", "--yes", "--infra", str(infra_repo)]) == 0
    assert not folder.exists()
    assert {k for k in tree_bytes(infra_repo) if k.startswith("apps/web")} == set()
    assert before.keys() <= tree_bytes(infra_repo).keys()


@pytest.mark.parametrize("damage", ["", "_commit: v1.0.0\n_src_path: /nowhere\nservi"])
def test_a_truncated_answers_file_is_reported_and_never_fed_to_copier(
    infra_repo: Path, template_repo: Path, capfd: pytest.CaptureFixture[str], damage: str
) -> None:
    """Copier died while writing the answers file of a service it had not registered yet."""
    argv = copier_argv(infra_repo, template_repo, "web")
    subprocess.run([*argv[:3], "--skip-tasks", *argv[3:]], check=True, capture_output=True)
    (infra_repo / "apps/web/.copier-answers.yml").write_text(damage)
    findings = [f for f in check(infra_repo, offline=True).findings if f.check == "interrupted"]
    assert [f.path for f in findings] == ["apps/web"], findings
    assert "gitops-onboard offboard web" in findings[0].fix
    state = tree_bytes(infra_repo)
    capfd.readouterr()
    assert main(["onboard", "--infra", str(infra_repo), "--resume", "web"]) == 2
    err = capfd.readouterr().err
    assert len(err.splitlines()) == 1 and "offboard web" in err, err
    assert "Traceback" not in err
    assert tree_bytes(infra_repo) == state
    assert main(["offboard", "web", "--yes", "--infra", str(infra_repo)]) == 0
    assert not (infra_repo / "apps/web").exists()


def test_a_damaged_answers_file_of_a_registered_service_says_how_to_restore_it(
    infra_repo: Path, template_repo: Path
) -> None:
    """A registered service was onboarded completely: undoing it is not the way out."""
    assert (
        main(
            [
                "onboard",
                "--infra",
                str(infra_repo),
                "--template",
                str(template_repo),
                *answers("web"),
            ]
        )
        == 0
    )
    (infra_repo / "apps/web/.copier-answers.yml").write_text("")
    findings = [f for f in check(infra_repo, offline=True).findings if f.check == "interrupted"]
    assert [f.path for f in findings] == ["apps/web"], findings
    assert "git checkout -- apps/web/.copier-answers.yml" in findings[0].fix
    assert "offboard" not in findings[0].fix


def test_resume_refuses_a_service_that_is_not_interrupted(
    infra_repo: Path, template_repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """`--resume` re-renders files: it must never touch a service that is complete."""
    assert (
        main(
            [
                "onboard",
                "--infra",
                str(infra_repo),
                "--template",
                str(template_repo),
                *answers("web"),
            ]
        )
        == 0
    )
    state = tree_bytes(infra_repo)
    capfd.readouterr()
    assert main(["onboard", "--infra", str(infra_repo), "--resume", "web"]) == 2
    err = capfd.readouterr().err
    assert "not an interrupted onboarding" in err and len(err.splitlines()) == 1
    assert main(["onboard", "--infra", str(infra_repo), "--resume", "nope"]) == 2
    assert tree_bytes(infra_repo) == state


def test_a_damaged_journal_stops_every_writer_and_is_reported(
    infra_repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A journal that cannot be read records an unknown change: nothing may write over it."""
    journal_file(infra_repo).parent.mkdir(parents=True, exist_ok=True)
    journal_file(infra_repo).write_text('{"kind": "onboard", "serv')
    state = tree_bytes(infra_repo)
    assert main(["flux", "enable-decryption", "--infra", str(infra_repo)]) == 1
    err = capfd.readouterr().err
    assert len(err.splitlines()) == 1 and "journal.json is damaged" in err, err
    assert tree_bytes(infra_repo) == state
    findings = [f for f in check(infra_repo, offline=True).findings if f.check == "interrupted"]
    assert [f.path for f in findings] == [".git/gitops-onboard/journal.json"]
