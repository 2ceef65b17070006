"""Races and kills against one infra repo: what the concurrency and kill tests share.

The test modules run a few rounds; `scripts/stress_safety.py` runs the same functions for many.
Every process here is the real `gitops-onboard` or `copier` command line, started fresh.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML

from generator import service_secrets as secret_files
from generator.kustomization import resources
from tests.helpers import tree_bytes

BIN = Path(sys.executable).parent
GITOPS_ONBOARD = str(BIN / "gitops-onboard")
COPIER = str(BIN / "copier")
CLUSTERS = ("koala", "iguana")


def answers(service: str) -> list[str]:
    """The answers of a small service on both clusters, one secret key, as `--data` flags."""
    data = [
        f"service={service}",
        "registry=gitea.example.com",
        "owner=team",
        f"clusters=[{', '.join(CLUSTERS)}]",
        "secret_keys=[API_KEY]",
    ]
    return [arg for item in data for arg in ("--data", item)]


def onboard_argv(infra: Path, template: Path, service: str) -> list[str]:
    """`gitops-onboard onboard` of `service` into `infra`."""
    return [
        GITOPS_ONBOARD,
        "onboard",
        "--infra",
        str(infra),
        "--template",
        str(template),
        *answers(service),
    ]


def copier_argv(infra: Path, template: Path, service: str) -> list[str]:
    """Plain `copier copy --trust` of `service` into `infra/apps/<service>` (the task registers)."""
    return [
        COPIER,
        "copy",
        "--trust",
        "--defaults",
        "--data",
        "kind=service",
        *answers(service),
        str(template),
        str(infra / "apps" / service),
    ]


def listed(infra: Path, cluster: str) -> list[str]:
    """The resources of one cluster's kustomization."""
    return resources((infra / "clusters" / cluster / "kustomization.yaml").read_text())


@dataclass(frozen=True)
class Finished:
    """One process of a race: its command, exit code and stderr."""

    argv: tuple[str, ...]
    returncode: int
    stderr: str


# The number of the read(2) system call, as /proc/<pid>/syscall shows it.
_READ_SYSCALL = {"x86_64": 0, "aarch64": 63}.get(os.uname().machine)
STDIN_WAIT = 120.0


def waits_on_stdin(pid: int) -> bool:
    """True while process `pid` is blocked reading its standard input (fd 0)."""
    try:
        fields = Path(f"/proc/{pid}/syscall").read_text().split()
    except OSError:
        return False
    return len(fields) > 1 and fields[0] == str(_READ_SYSCALL) and int(fields[1], 16) == 0


def race(
    commands: Sequence[Sequence[str]], *, stdin: Sequence[str] | None = None
) -> list[Finished]:
    """Start every command at once, wait for all, return how each ended.

    With `stdin`, each command gets its text only once every one of them is blocked reading
    stdin, all at the same moment: commands that read stdin first then start their work
    together, however long each took to get there.
    """
    if stdin is not None and _READ_SYSCALL is None:
        raise RuntimeError(f"race: no read(2) number known for {os.uname().machine}")
    # Each waits its turn; a slow machine must not turn a wait into a failure.
    env = {**os.environ, "GITOPS_ONBOARD_LOCK_TIMEOUT": "600"}
    procs = [
        subprocess.Popen(
            list(cmd),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for cmd in commands
    ]
    if stdin is not None:
        deadline = time.monotonic() + STDIN_WAIT
        waiting = list(procs)
        while waiting := [proc for proc in waiting if not waits_on_stdin(proc.pid)]:
            exited = [proc.args for proc in waiting if proc.poll() is not None]
            assert not exited, f"ended before reading stdin: {exited}"
            assert time.monotonic() < deadline, f"never read stdin: {[p.args for p in waiting]}"
            time.sleep(0.005)
    for proc, text in zip(procs, stdin or [""] * len(procs), strict=True):
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(text)
            proc.stdin.close()
    done = []
    for proc, cmd in zip(procs, commands, strict=True):
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.wait(timeout=300)
        done.append(Finished(tuple(cmd), proc.returncode, err))
    return done


def lost_registrations(infra: Path, services: Sequence[str]) -> int:
    """How many (cluster, service) entries are missing after every service was onboarded."""
    lost = 0
    for cluster in CLUSTERS:
        entries = listed(infra, cluster)
        lost += sum(f"../../apps/{service}" not in entries for service in services)
    return lost


def onboarding_race(
    pristine: Path, template: Path, work: Path, services: Sequence[str], *, plain_copier: bool
) -> tuple[list[Finished], int]:
    """Onboard `services` at once into a fresh copy of `pristine`; return runs and losses."""
    infra = work / "infra"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(pristine, infra, symlinks=True)
    argv = copier_argv if plain_copier else onboard_argv
    runs = race([argv(infra, template, service) for service in services])
    return runs, lost_registrations(infra, services)


def decrypted_keys(infra: Path, service: str) -> dict[str, str]:
    """The decrypted values of a service's secrets (needs SOPS_AGE_KEY_FILE)."""
    from generator import sops

    path = infra / "apps" / service / secret_files.SECRETS_FILE
    doc = YAML(typ="safe", pure=True).load(sops.decrypt_file(path, root=infra))
    return dict(doc.get("stringData") or {})


# ── kills ────────────────────────────────────────────────────────────────────

AS_BEFORE = "as-before"
ONBOARDED = "fully-onboarded"
DETECTED = "detected"
UNREPORTED = "UNREPORTED"


def kill_at(argv: Sequence[str], delay: float, after: Path | None = None) -> int | None:
    """Run `argv` in its own process group and SIGKILL the whole group after `delay` s.

    With `after`, the delay counts from the moment that path appears (the first file the
    command writes), so kills land in its writing phase however slow the machine is.
    Returns the exit code when the command finished before the kill, else None.
    """
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    while after is not None and not after.exists() and proc.poll() is None:
        time.sleep(0.002)
    try:
        return proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _wait_group_gone(proc.pid)
        return None


def _wait_group_gone(pgid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.02)


def _comparable(tree: dict[str, bytes]) -> dict[str, bytes | tuple[str, ...]]:
    """A tree with each encrypted file replaced by its key names (ciphertext is random)."""
    shown: dict[str, bytes | tuple[str, ...]] = {}
    for name, data in tree.items():
        if name.endswith(".enc.yaml"):
            try:
                shown[name] = tuple(secret_files.key_names(data.decode("utf-8"), name))
            except Exception:  # a damaged file is simply different
                shown[name] = ("<damaged>",)
        else:
            shown[name] = data
    return shown


def same_onboarding(infra: Path, reference: dict[str, bytes]) -> bool:
    """True when `infra` holds exactly what an uninterrupted onboarding made."""
    return _comparable(tree_bytes(infra)) == _comparable(reference)


@dataclass
class KillTally:
    """What the kills left behind, by state; the first lines the next command printed."""

    states: dict[str, int] = field(default_factory=dict)
    kills: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, state: str, note: str = "") -> None:
        self.kills += 1
        self.states[state] = self.states.get(state, 0) + 1
        if note and len(self.examples) < 12:
            self.examples.append(f"{state}: {note}")

    def summary(self) -> str:
        order = (AS_BEFORE, ONBOARDED, DETECTED, UNREPORTED)
        counts = ", ".join(f"{self.states.get(state, 0)} {state}" for state in order)
        return f"{self.kills} kills: {counts}"


@contextlib.contextmanager
def fresh_copy(pristine: Path, work: Path) -> Iterator[Path]:
    """A private copy of `pristine` under `work`, removed afterwards."""
    infra = work / "infra"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(pristine, infra, symlinks=True)
    try:
        yield infra
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_cli(*argv: str, stdin: str = "") -> Finished:
    """Run `gitops-onboard ARGV` to completion, `stdin` on its stdin."""
    result = subprocess.run(
        [GITOPS_ONBOARD, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return Finished((GITOPS_ONBOARD, *argv), result.returncode, result.stderr)


def journal_file(infra: Path) -> Path:
    """Where an infra repo keeps the journal of a multi-file change in progress."""
    return infra / ".git" / "gitops-onboard" / "journal.json"


@dataclass(frozen=True)
class Reference:
    """An uninterrupted onboarding of `web`: the tree it made, its duration, and when its
    first file of `apps/web/` appeared and its last change to the repo was made (seconds
    after the start)."""

    tree: dict[str, bytes]
    took: float
    first_write: float
    last_write: float

    def spread(self, count: int) -> list[float]:
        """`count` kill delays spread evenly over the whole run and just past its end."""
        end = self.took * 1.05
        return [end * (i + 0.5) / count for i in range(count)]

    def spread_writing(self, count: int) -> list[float]:
        """`count` delays after the first file appears, over the writing phase and past it.

        The phase ends with the last change to the repo, not with the process: what a
        command does after its last write (checks, output, exit) is no moment to kill at.
        """
        end = max(self.last_write - self.first_write, 0.005) * 1.3
        return [end * (i + 0.5) / count for i in range(count)]


def last_change(root: Path, since: float) -> float:
    """Seconds after `since` (a `time.time()`) of the newest change to anything under
    `root`: a file written, an entry made or removed in a folder."""
    newest = since
    for folder, folders, files in os.walk(root):
        for name in [*folders, *files]:
            newest = max(newest, os.lstat(os.path.join(folder, name)).st_mtime)
    return max(newest, os.lstat(root).st_mtime) - since


def reference_onboarding(
    pristine: Path, template: Path, work: Path, *, plain_copier: bool
) -> Reference:
    """Onboard `web` once, uninterrupted, and time it."""
    with fresh_copy(pristine, work) as infra:
        argv = (copier_argv if plain_copier else onboard_argv)(infra, template, "web")
        wall = time.time()
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        first = 0.0
        while proc.poll() is None:
            if not first and (infra / "apps" / "web").exists():
                first = time.monotonic() - started
            time.sleep(0.005)
        took = time.monotonic() - started
        assert proc.stderr is not None
        assert proc.returncode == 0, proc.stderr.read()
        first = first or took / 2
        return Reference(tree_bytes(infra), took, first, max(last_change(infra, wall), first))


# Paths whose appearance marks a moment worth killing at: Copier's first file, and the
# first file of the plan (the command line writes the secrets first; the task's journal
# appears just before its first write).
FIRST_FILE = "apps/web"
PLAN_WRITE = {
    False: "apps/web/secrets.enc.yaml",
    True: ".git/gitops-onboard/journal.json",
}


@dataclass(frozen=True)
class AfterKill:
    """What one kill left, and what the next commands made of it."""

    state: str
    next_command: str = ""
    check_says: str = ""
    repaired_by: str = ""
    repair_problem: str = ""


def _next_command_says(infra: Path, template: Path) -> str:
    """The one line the natural next command (onboarding `web` again) prints, if it refuses."""
    done = run_cli(*onboard_argv(infra, template, "web")[1:])
    lines = done.stderr.splitlines()
    if done.returncode != 0 and len(lines) == 1 and "interrupted" in lines[0]:
        return lines[0]
    return ""


def _check_says(infra: Path) -> str:
    from generator.check import check

    report = check(infra, offline=True)
    found = [f for f in report.findings if f.check == "interrupted"]
    return f"{found[0].path}: {found[0].message} — {found[0].fix}" if found else ""


def _offered(line: str) -> list[str]:
    commands = []
    if "gitops-onboard onboard --resume web" in line:
        commands.append("resume")
    if "gitops-onboard offboard web" in line:
        commands.append("offboard")
    return commands


def after_kill(
    infra: Path,
    template: Path,
    before: dict[str, bytes],
    reference: dict[str, bytes],
    *,
    prefer: str,
    plain_copier: bool = False,
    rerun_as_before: bool = False,
) -> AfterKill:
    """Classify the state a kill left; when it is interrupted, follow the offered repair.

    `prefer` picks `resume` or `offboard` when both are offered. A repair must end fully
    onboarded (resume) or exactly as before (offboard). With `rerun_as_before`, a state
    that looks as before must also onboard again cleanly (no stale journal in the way).
    """
    if tree_bytes(infra) == before:
        state = AS_BEFORE
    elif same_onboarding(infra, reference) and not journal_file(infra).exists():
        return AfterKill(ONBOARDED)
    else:
        state = ""
    says = _next_command_says(infra, template) if not state else ""
    if state == AS_BEFORE:
        if rerun_as_before:
            argv = (copier_argv if plain_copier else onboard_argv)(infra, template, "web")
            again = subprocess.run(argv, capture_output=True, text=True, check=False)
            if again.returncode != 0 or not same_onboarding(infra, reference):
                problem = f"onboarding again (exit {again.returncode}): {again.stderr[-300:]}"
                return AfterKill(AS_BEFORE, repair_problem=problem)
        return AfterKill(AS_BEFORE)
    check_says = _check_says(infra)
    if not says or not check_says:
        return AfterKill(UNREPORTED, says, check_says)
    offered = _offered(says)
    repair = prefer if prefer in offered else (offered[0] if offered else "")
    problem = ""
    if repair == "resume":
        done = run_cli("onboard", "--infra", str(infra), "--resume", "web")
        if done.returncode != 0 or not same_onboarding(infra, reference):
            problem = f"resume left it unfinished (exit {done.returncode}): {done.stderr.strip()}"
    elif repair == "offboard":
        done = run_cli("offboard", "web", "--yes", "--infra", str(infra))
        if done.returncode != 0 or tree_bytes(infra) != before:
            problem = f"offboard did not restore it (exit {done.returncode}): {done.stderr.strip()}"
    else:
        problem = "no repair offered"
    if not problem and check_says and _check_says(infra):
        problem = "check still reports an interrupted onboarding after the repair"
    return AfterKill(DETECTED, says, check_says, repair, problem)


def kill_round(
    pristine: Path,
    template: Path,
    work: Path,
    reference: dict[str, bytes],
    *,
    plain_copier: bool,
    delay: float,
    prefer: str,
    rerun_as_before: bool = False,
    after: str = "",
) -> AfterKill:
    """Onboard `web` into a fresh copy, SIGKILL it after `delay` s, classify and repair.

    With `after` (a path in the repo: `FIRST_FILE`, `PLAN_WRITE`), the delay counts from
    the moment that path appears.
    """
    with fresh_copy(pristine, work) as infra:
        before = tree_bytes(infra)
        argv = (copier_argv if plain_copier else onboard_argv)(infra, template, "web")
        kill_at(argv, delay, infra / after if after else None)
        return after_kill(
            infra,
            template,
            before,
            reference,
            prefer=prefer,
            plain_copier=plain_copier,
            rerun_as_before=rerun_as_before,
        )
