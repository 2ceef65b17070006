"""The fast update against copies that do not look like what it expects, and `kill -9`.

The fast path renders and merges copies in process; a copy it cannot promise to update as
`copier update` would must go to Copier (and the table says so), a copy must never be
written through a symlink, and a run killed half-way must leave every copy either as git has
it or fully updated — the next `update` puts back a copy it finds half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from generator import fast_update
from generator.cli import main
from generator.lock import state_dir
from generator.onboard import init_infra, onboard_service
from tests.helpers import AgeKey, commit_all, git, processes_using_temp, running
from tests.story.test_update_equivalence import TARGET, snapshot, two_releases

OWNER = {"registry": "gitea.example.com", "owner": "team", "clusters": ["koala"]}
SERVICES = tuple(f"svc{i}" for i in range(8))


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return two_releases(tmp_path_factory.mktemp("released") / "template")


@pytest.fixture(scope="module")
def fleet_v1(tmp_path_factory: pytest.TempPathFactory, released: Path, age_key: AgeKey) -> Path:
    root = tmp_path_factory.mktemp("fleet") / "infra"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    recipients = {"age_recipients": [age_key.public]}
    init_infra(root, ["koala"], str(released), vcs_ref="v1.0.0", extra=recipients)
    for name in SERVICES:
        onboard_service(root, {**OWNER, "service": name}, vcs_ref="v1.0.0")
    commit_all(root, "fleet at v1")
    return root


def twin(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination, symlinks=True)
    return destination


def update_json(root: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(["update", "--to", TARGET, "--format", "json", *extra, str(root)])
    payload = json.loads(capsys.readouterr().out)
    payload["code"] = code
    payload["by_path"] = {r["path"]: r for r in payload["results"]}
    return payload


def test_answers_file_pointing_at_another_template_stops_the_run_before_any_render(
    fleet_v1: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hand-edited `_src_path` names a template the repo never allowed: nothing is rendered
    from it (rendering runs its Jinja and tasks with --trust) and nothing is written."""
    root = twin(fleet_v1, tmp_path / "infra")
    rogue = two_releases(tmp_path / "rogue")
    answers = root / "apps/svc3/.copier-answers.yml"
    text = answers.read_text()
    recorded = next(line for line in text.splitlines() if line.startswith("_src_path:"))
    answers.write_text(text.replace(recorded, f"_src_path: {rogue}"))
    commit_all(root, "point svc3 elsewhere")
    before = snapshot(root)

    code = main(["update", "--to", TARGET, str(root)])

    assert code == 2
    assert "_src_path" in capsys.readouterr().err
    assert snapshot(root) == before


def test_commit_that_is_no_tag_goes_to_copier_and_the_table_says_so(
    fleet_v1: Path, released: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`_commit` edited to the bare hash of v1.0.0: the fast path does not guess what Copier
    makes of it; Copier updates that copy, with the same result as `--no-fast-path`.

    (That the other copies come out as Copier makes them is `test_update_equivalence`'s.)"""
    fast, slow = twin(fleet_v1, tmp_path / "fast"), tmp_path / "slow"
    sha = git("rev-parse", "v1.0.0^{commit}", cwd=released).strip()
    answers = fast / "apps/svc1/.copier-answers.yml"
    answers.write_text(answers.read_text().replace("_commit: v1.0.0", f"_commit: {sha}"))
    commit_all(fast, "svc1 records a bare commit")
    twin(fast, slow)

    on = update_json(fast, capsys=capsys)
    off = update_json(slow / "apps/svc1", "--no-fast-path", capsys=capsys)

    row = on["by_path"]["apps/svc1"]
    assert "not a release tag" in row["note"], row
    assert list(off["by_path"]) == ["."]  # the one copy below slow/apps/svc1
    assert row["outcome"] == off["by_path"]["."]["outcome"]
    assert all(r["note"] == "" for p, r in on["by_path"].items() if p != "apps/svc1")
    assert svc1(fast) == svc1(slow)
    main(["update", "--to", TARGET, str(fast)])
    assert "apps/svc1: not a release tag" not in capsys.readouterr().out


def svc1(root: Path) -> dict[str, tuple[int, bytes]]:
    return {p: v for p, v in snapshot(root).items() if p.startswith("apps/svc1/")}


def test_symlink_in_a_copy_is_never_written_through(
    fleet_v1: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """deployment.yaml (which v2 changes) is a committed symlink to a file outside the repo:
    the update must not write the new deployment into that file."""
    root = twin(fleet_v1, tmp_path / "infra")
    outside = tmp_path / "outside.yaml"
    outside.write_text("not yours\n")
    link = root / "apps/svc2/deployment.yaml"
    link.unlink()
    link.symlink_to(os.path.relpath(outside, link.parent))
    commit_all(root, "svc2 deployment is a link")

    payload = update_json(root, capsys=capsys)

    assert outside.read_text() == "not yours\n"
    row = payload["by_path"]["apps/svc2"]
    assert "symlink" in row["note"], row
    assert all(r["note"] == "" for p, r in payload["by_path"].items() if p != "apps/svc2")


def _journal(root: Path) -> Path:
    return state_dir(root) / "update.json"


def _old_or_new(root: Path, reference: Path, folder: str) -> str:
    """'old' when the copy is as git has it, 'new' when as the finished update left it."""
    status = git("status", "--porcelain", "--untracked-files=all", "--", folder, cwd=root)
    if not status.strip():
        return "old"
    mine = {p: v for p, v in snapshot(root).items() if p.startswith(folder + "/")}
    theirs = {p: v for p, v in snapshot(reference).items() if p.startswith(folder + "/")}
    return "new" if mine == theirs else "half"


def test_kill_9_mid_fleet_leaves_each_copy_old_or_new_and_the_next_run_says_so(
    fleet_v1: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed while a copy is being written: that copy is named by the journal, the others
    are old or new; the next `update` puts the named copy back and updates it (its row says
    so), and every copy ends as an uninterrupted update leaves it."""
    reference = twin(fleet_v1, tmp_path / "reference")
    assert update_json(reference, capsys=capsys)["code"] == 0
    tally = {"killed inside a copy": 0, "killed between copies": 0}
    for round_ in range(3):
        root = twin(fleet_v1, tmp_path / f"infra{round_}")
        process = subprocess.Popen(
            [sys.executable, "-m", "generator", "update", "--to", TARGET, str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seen = 0
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if _journal(root).exists():
                seen += 1
                if seen > round_ * 3:
                    break
                while _journal(root).exists() and process.poll() is None:
                    time.sleep(0.001)
            time.sleep(0.001)
        assert process.poll() is None, "the update finished before the kill"
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        interrupted = None
        if _journal(root).exists():
            interrupted = json.loads(_journal(root).read_text())["folder"]
            tally["killed inside a copy"] += 1
        else:
            tally["killed between copies"] += 1
        folders = [f"apps/{name}" for name in SERVICES]
        states = {f: _old_or_new(root, reference, f) for f in folders if f != interrupted}
        assert set(states.values()) <= {"old", "new"}, states

        payload = update_json(root, capsys=capsys)

        for folder in folders:
            row = payload["by_path"][folder]
            if folder == interrupted:
                assert "interrupted update" in row["note"], row
                assert row["outcome"] == "updated", row
            elif states[folder] == "new":
                assert row["outcome"] == "current", row
            else:
                assert row["outcome"] == "updated", row
        assert snapshot(root) == snapshot(reference)
    print(f"\nkills: {tally}")


def _python_children(pid: int) -> list[int]:
    """The Python processes `pid` started (its workers; not kubectl or git)."""
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found = []
    for child in map(int, listed):
        try:
            if Path(os.readlink(f"/proc/{child}/exe")).name.startswith("python"):
                found.append(child)
        except OSError:
            continue
    return found


def _kill_once_it_has_workers(argv: list[str]) -> list[int]:
    """Run `argv`, SIGKILL it (alone, not its group) once a worker process runs."""
    for _ in range(5):
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers: list[int] = []
        while process.poll() is None and not workers:
            # Still Python 50 ms later: a worker, not a tool between its fork and its exec.
            first = _python_children(process.pid)
            time.sleep(0.05)
            workers = [pid for pid in _python_children(process.pid) if pid in first]
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return workers
    pytest.fail(f"{argv[3]} always finished before its workers were seen")


@pytest.mark.parametrize(("jobs", "pools"), [([], 0), (["--jobs", "2"], 1)], ids=["auto", "2"])
def test_a_few_copies_render_in_the_command_unless_jobs_asks_for_workers(
    fleet_v1: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    jobs: list[str],
    pools: int,
) -> None:
    """A worker costs more to start than rendering a few copies: 9 copies render in the
    command itself, the same as with `--jobs 2` in two workers."""
    started: list[int] = []

    class Counted(fast_update.WorkerPool):
        def __init__(self, max_workers: int, **kwargs: Any) -> None:
            started.append(max_workers)
            super().__init__(max_workers, **kwargs)

    monkeypatch.setattr(fast_update, "WorkerPool", Counted)
    alone, pooled = twin(fleet_v1, tmp_path / "alone"), twin(fleet_v1, tmp_path / "pooled")
    assert update_json(alone, *jobs, capsys=capsys)["code"] == 0
    assert started == [2] * pools
    assert update_json(pooled, "--jobs", "2", capsys=capsys)["code"] == 0
    assert snapshot(alone) == snapshot(pooled)


@pytest.mark.parametrize("command", ["update", "check"])
def test_a_run_on_every_core_leaves_nothing_in_the_temp_folder(
    fleet_v1: Path, tmp_path: Path, command: str
) -> None:
    """Each render worker checks out the template versions it renders, in the temp folder.
    The update's workers never removed theirs: every run left two checkouts per version."""
    root = twin(fleet_v1, tmp_path / "infra")
    argv = [sys.executable, "-m", "generator", command]
    if command == "update":
        argv += ["--to", TARGET, "--jobs", "2"]
    else:
        argv += ["--offline"]  # 16 copies: one worker per core
        for name in SERVICES:
            shutil.copytree(root / "apps" / name, root / "apps" / f"{name}-again", symlinks=True)
    temp = tmp_path / "temp"
    temp.mkdir()
    done = subprocess.run(
        [*argv, str(root)],
        env={**os.environ, "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    assert sorted(p.name for p in temp.iterdir()) == []


@pytest.mark.parametrize("command", ["update", "check"])
def test_kill_9_leaves_no_worker_process_behind(
    fleet_v1: Path, tmp_path: Path, command: str
) -> None:
    """`update` renders in spawned worker processes and `check` a fleet in forked ones. A
    pool's worker waits on a queue whose write end it holds itself, so it never saw its
    command die: each `kill -9` left its idle Python workers behind for good."""
    root = twin(fleet_v1, tmp_path / "infra")
    argv = [sys.executable, "-m", "generator", command]
    if command == "update":
        argv += ["--to", TARGET, "--jobs", "2"]
    else:  # a fleet: check renders 16 copies or more in worker processes
        argv += ["--offline"]
        for name in SERVICES:
            shutil.copytree(root / "apps" / name, root / "apps" / f"{name}-again", symlinks=True)
    workers = _kill_once_it_has_workers([*argv, str(root)])
    deadline = time.monotonic() + 10
    while any(map(running, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in workers if running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"{len(left)} of {len(workers)} workers outlived the killed {command}"


def _workers_of(pid: int) -> list[int]:
    """Python processes below `pid`: its pool workers (tools such as git are not Python)."""
    found = []
    for child in _python_children(pid):
        found += [child, *_workers_of(child)]
    return found


@pytest.mark.parametrize(
    "argv",
    [
        ["update", "--to", TARGET, "--jobs", "2"],
        ["update", "--to", TARGET, "--jobs", "2", "--no-fast-path"],
        ["check", "--offline"],
    ],
    ids=["update", "update-no-fast-path", "check"],
)
def test_kill_9_mid_render_leaves_nothing_in_the_temp_folder(
    fleet_v1: Path, tmp_path: Path, argv: list[str]
) -> None:
    """Killed while its workers render, a command's workers end with it (see above), but
    what they had in the temp folder stayed: Copier's checkouts and the old and new
    renders of `copier update`, which `--no-fast-path` runs in each worker, one repo each."""
    root = tmp_path / "fleet"
    for repo in ("a", "b"):
        twin(fleet_v1, root / repo)
    if argv[0] == "check":  # a fleet: check renders 16 copies or more in worker processes
        for name in SERVICES:
            shutil.copytree(
                root / "a/apps" / name, root / "a/apps" / f"{name}-again", symlinks=True
            )
    temp = tmp_path / "temp"
    temp.mkdir()
    for _ in range(5):
        process = subprocess.Popen(
            [sys.executable, "-m", "generator", *argv, str(root)],
            env={**os.environ, "TMPDIR": str(temp)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers: list[int] = []
        # Killed while a worker fills a folder in the temp folder (a checkout, a render).
        while process.poll() is None and not (
            workers and any(len(path.relative_to(temp).parts) > 1 for path in temp.rglob("*"))
        ):
            workers = _workers_of(process.pid)
            time.sleep(0.02)
        if process.poll() is None:
            break
        shutil.rmtree(temp)
        temp.mkdir()
    else:
        pytest.fail(f"{argv[0]} always finished before a worker wrote to the temp folder")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # Every process of the run, a worker that was only starting at the kill too: its TMPDIR.
    deadline = time.monotonic() + 15
    while (left := processes_using_temp(temp)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "workers outlived the killed command"
    assert sorted(p.relative_to(temp).as_posix() for p in temp.rglob("*")) == []
