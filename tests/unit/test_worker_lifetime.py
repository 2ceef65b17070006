"""generator.worker_lifetime: a worker ends once the process that started it is gone, and
what it keeps in the temp folder goes with it, however it ends."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path

import pytest

from generator.worker_lifetime import (
    POLL_SECONDS,
    WorkerPool,
    clean_up_when_ending,
    exit_with_parent,
    remove_folders_of_ended_workers,
    start_worker,
)
from tests.helpers import processes_using_temp, running


def _keep_a_folder(folder: Path) -> None:
    folder.mkdir()
    clean_up_when_ending(partial(shutil.rmtree, folder))


def _worker(parent: int, folder: Path) -> None:
    _keep_a_folder(folder)
    exit_with_parent(parent)
    time.sleep(60)


def test_a_worker_outlives_nothing_but_stays_while_its_parent_runs(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    kept = context.Process(target=_worker, args=(os.getpid(), tmp_path / "kept"))
    orphaned = context.Process(  # not its parent
        target=_worker, args=(os.getpid() + 1_000_000, tmp_path / "orphaned")
    )
    kept.start()
    orphaned.start()
    try:
        orphaned.join(timeout=30)
        assert orphaned.exitcode == 1
        assert not (tmp_path / "orphaned").exists()  # it removed what it kept
        time.sleep(3 * POLL_SECONDS)
        assert kept.is_alive()
        assert (tmp_path / "kept").is_dir()
    finally:
        kept.kill()
        orphaned.kill()
        kept.join()
        orphaned.join()


def test_a_pool_worker_removes_what_it_kept_when_the_pool_ends(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=exit_with_parent, initargs=(os.getpid(),)
    ) as pool:
        pool.submit(_keep_a_folder, tmp_path / "checkout").result()
        assert (tmp_path / "checkout").is_dir()
    assert not (tmp_path / "checkout").exists()


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp folder of this test and of the workers it starts."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return tmp_path


def _started_pool(
    workers: int, kind: type[ProcessPoolExecutor] = WorkerPool
) -> ProcessPoolExecutor:
    return kind(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(os.getpid(),),
    )


def _temp_in_worker() -> tuple[str, str]:
    tempfile.mkdtemp()  # as Copier makes its checkouts, left for the worker's end
    return tempfile.gettempdir(), os.environ["TMPDIR"]


def test_a_started_worker_works_in_a_temp_folder_of_its_own_that_goes_with_it(
    temp: Path,
) -> None:
    # A plain pool: the worker removes its folder itself, without WorkerPool's sweep.
    with _started_pool(1, ProcessPoolExecutor) as pool:
        own, environment = pool.submit(_temp_in_worker).result()
        assert own == environment  # git and the other tools use it too
        assert Path(own).parent == temp
        assert len(list(Path(own).iterdir())) == 1
    assert list(temp.iterdir()) == []


# A tool, and a tool that starts one of its own (as `git submodule update`, a shell script,
# does): each writes the pid of the process that is to end with the worker into `$0`.
_TOOLS = {
    "tool": 'echo $$ > "$0"; exec sleep 60',
    "tool-of-a-tool": 'sleep 60 & echo $! > "$0"; wait',
}


def _start_a_tool_then_lose_the_parent(script: str, pid_file: Path) -> None:
    subprocess.Popen(["sh", "-c", script, str(pid_file)])
    while not pid_file.is_file() or not pid_file.read_text().strip():
        time.sleep(0.01)
    exit_with_parent(os.getpid() + 1_000_000)  # not its parent: as if the parent died
    time.sleep(60)


@pytest.mark.parametrize("script", _TOOLS.values(), ids=_TOOLS.keys())
def test_an_orphaned_worker_stops_the_tools_it_runs(tmp_path: Path, script: str) -> None:
    """A tool the worker started (a git clone) would write on into the temp folder after
    the clean-ups, and run on after the command was killed; so would a tool's own tool."""
    pid_file = tmp_path / "tool.pid"
    worker = multiprocessing.get_context("spawn").Process(
        target=_start_a_tool_then_lose_the_parent, args=(script, pid_file)
    )
    worker.start()
    worker.join(timeout=30)
    assert worker.exitcode == 1
    tool = int(pid_file.read_text())
    deadline = time.monotonic() + 5  # an ended tool of a tool is reaped by another process
    while running(tool) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not running(tool), "the worker's tool outlived it"


_BUSY_WORKER = """
import os, sys, tempfile, time
from generator.worker_lifetime import start_worker
start_worker(os.getppid())
print(tempfile.gettempdir(), flush=True)
while True:  # as Copier makes one checkout after another, up to the moment the process ends
    try:
        os.mkdir(os.path.join(tempfile.mkdtemp(), "checkout"))
    except OSError:
        pass
"""

_PARENT = """
import subprocess, sys
worker = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
print(worker.pid, worker.stdout.readline().strip(), flush=True)
sys.stdin.read()
"""


def _lose_the_parent_of(worker_script: str, temp: Path) -> None:
    """Run `worker_script` as the worker of a parent that is then killed, once the worker
    has made something in its folder; return when every process of the two has ended."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, worker_script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(temp)},
    )
    assert parent.stdout is not None
    worker, own = parent.stdout.readline().split()
    try:
        time.sleep(0.2)  # the worker is at work
        assert Path(own).parent == temp and any(Path(own).iterdir())
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while running(int(worker)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(int(worker)), "the worker outlived its parent"
    finally:
        parent.kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(worker), signal.SIGKILL)
    _wait_for_every_process_using(temp)


def test_a_worker_still_making_folders_as_its_parent_dies_leaves_none(tmp_path: Path) -> None:
    """The worker's own work goes on while it cleans up: a folder made after the removal
    began (Copier's next checkout) must not keep the worker's temp folder alive."""
    temp = tmp_path / "temp"
    temp.mkdir()
    _lose_the_parent_of(_BUSY_WORKER, temp)
    assert list(temp.iterdir()) == []


# As Copier's `git clone` makes each checkout: a tool given an absolute path, making the
# folders that lead to it. Started after the worker's folder was renamed for removal, it
# made the folder again under its old name, and stayed there (empty where the tool then
# removed its own checkout, as a failing `git clone` does).
_WORKER_STARTING_TOOLS = """
import os, subprocess, sys, tempfile
from generator.worker_lifetime import start_worker
start_worker(os.getppid())
own = tempfile.gettempdir()
print(own, flush=True)
n = 0
while True:
    n += 1
    subprocess.run(["mkdir", "-p", os.path.join(own, str(n), "checkout")], check=False)
"""


def test_a_tool_started_as_the_worker_ends_cannot_make_its_folder_again(tmp_path: Path) -> None:
    """No tool starts once the worker is ending, and its folder goes after the worker."""
    temp = tmp_path / "temp"
    temp.mkdir()
    _lose_the_parent_of(_WORKER_STARTING_TOOLS, temp)
    time.sleep(0.2)  # a tool the worker left running would make its folder by now
    assert list(temp.iterdir()) == []


def _wait_for_every_process_using(temp: Path) -> None:
    """Until no process started with TMPDIR in `temp` runs: the worker, its tools, and the
    process that removes the worker's folder once the worker is gone."""
    deadline = time.monotonic() + 30
    while (left := processes_using_temp(temp)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [], "processes of the ended worker still run"


def _die() -> None:
    tempfile.mkdtemp()  # a checkout in the worker's folder, then killed
    os._exit(9)


def _folder_of_worker() -> str:
    return tempfile.gettempdir()


def test_a_pool_broken_by_a_dying_worker_leaves_no_folder(temp: Path) -> None:
    """A worker that dies cleans nothing up, and the pool ends its other workers with
    SIGTERM; shutting the pool down removes what they all left."""
    with _started_pool(2) as pool:
        assert pool.submit(_folder_of_worker).result()  # the workers have started
        with pytest.raises(BrokenProcessPool):
            pool.submit(_die).result()
    assert list(temp.iterdir()) == []


def test_the_folders_of_another_pool_still_at_work_are_kept(temp: Path) -> None:
    with _started_pool(1) as working:
        busy = Path(working.submit(_folder_of_worker).result())
        with _started_pool(1) as other:
            other.submit(_folder_of_worker).result()
        assert list(temp.iterdir()) == [busy]
    assert list(temp.iterdir()) == []


def test_a_link_named_as_an_ended_workers_folder_is_not_followed(temp: Path) -> None:
    """Someone with access to the temp folder plants a symlink where the sweep looks: the
    sweep takes the link away, never what it points at."""
    kept = temp / "kept"
    kept.mkdir()
    (kept / "precious").write_text("mine\n")
    gone = subprocess.Popen(["true"])  # a pid that no longer runs
    gone.wait()
    link = temp / f"gitops-onboard-worker-{os.getpid()}-{gone.pid}-planted"
    link.symlink_to(kept, target_is_directory=True)
    remove_folders_of_ended_workers()
    assert (kept / "precious").read_text() == "mine\n"
