"""A hand-written service to adopt, and `kill -9` against `gitops-onboard adopt`.

Shared by tests/adversarial/test_adopt.py (a few kills) and scripts/stress_safety.py (many).
`web` is a Deployment with a plaintext Secret in the same file, listed by cluster koala.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from generator.clusters import cluster_file
from generator.kustomization import add_resource
from tests.adversarial._txn import (
    AS_BEFORE,
    DETECTED,
    GITOPS_ONBOARD,
    UNREPORTED,
    _comparable,
    fresh_copy,
    journal_file,
    run_cli,
)
from tests.helpers import commit_all, tree_bytes

KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME, namespace: NAME}
spec:
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      containers:
        - {name: NAME, image: "gitea.example.com/team/NAME:1.0", ports: [{containerPort: 80}]}
"""


def hand_written(root: Path, name: str, *, listed: bool = True, extra: str = "") -> Path:
    folder = root / "apps" / name
    folder.mkdir(parents=True)
    (folder / "deployment.yaml").write_text(DEPLOYMENT.replace("NAME", name) + extra)
    (folder / "kustomization.yaml").write_text(KUSTOMIZATION + "resources:\n  - deployment.yaml\n")
    if listed:
        path = cluster_file(root, "koala")
        path.write_text(add_resource(path.read_text(), f"../../apps/{name}"))
    commit_all(root, f"{name} by hand")
    return folder


def holders(root: Path, needle: bytes, *, original: int | None = None) -> list[str]:
    """Files under `root` (git's object store aside) holding `needle`, except the file with
    inode `original` (the hand-written file itself, wherever it is)."""
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if rel[:2] == (".git", "objects") or path.is_symlink() or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if needle in data and path.stat().st_ino != original:
            found.append(path.relative_to(root).as_posix())
    return found


LEDGER_PASSWORD = "ledger-db-hunter2-adversarial"
LEDGER_SECRET = f"""\
---
apiVersion: v1
kind: Secret
metadata: {{name: web-db, namespace: web}}
type: Opaque
stringData:
  password: "{LEDGER_PASSWORD}"
"""


def adopt_argv(infra: Path, *extra: str) -> list[str]:
    return [GITOPS_ONBOARD, "adopt", "--infra", str(infra), "apps/web", "--yes", *extra]


def check_report(infra: Path) -> str:
    """What `check` says about an interrupted change of apps/web (empty when nothing)."""
    from generator.check import check

    report = check(infra, offline=True)
    found = [f for f in report.findings if f.check == "interrupted" and f.path == "apps/web"]
    return f"{found[0].message} — {found[0].fix}" if found else ""


def reported(infra: Path) -> tuple[str, str]:
    """What `check` and a second `adopt --yes` say about the folder (empty when nothing)."""
    in_check = check_report(infra)
    again = run_cli(*adopt_argv(infra)[1:])
    lines = again.stderr.splitlines()
    ok = again.returncode != 0 and len(lines) == 1 and "interrupted" in lines[0]
    return in_check, lines[0] if ok else ""


FINISH = "gitops-onboard adopt apps/web --resume"
UNDO = "gitops-onboard adopt apps/web --rollback"


def kill_adopt_round(
    pristine: Path,
    work: Path,
    reference: dict[str, bytes],
    delay: float,
    prefer: str,
    *,
    from_start: bool = False,
) -> tuple[str, list[str]]:
    """Adopt in a fresh copy, SIGKILL it `delay` s after its first write (or after its start),
    classify what it left, and repair it the way offered."""
    problems: list[str] = []
    with fresh_copy(pristine, work) as infra:
        tmp = work / "tmp"
        tmp.mkdir()
        original = (infra / "apps/web/deployment.yaml").stat().st_ino
        before = tree_bytes(infra)
        env = {**os.environ, "TMPDIR": str(tmp)}
        proc = subprocess.Popen(
            adopt_argv(infra),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        marks = (journal_file(infra), infra / "apps/web/.copier-answers.yml")
        while not from_start and proc.poll() is None and not any(m.exists() for m in marks):
            time.sleep(0.001)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for needle in (LEDGER_PASSWORD.encode(),):
            left = holders(infra, needle, original=original) + holders(tmp, needle)
            if left:
                problems.append(f"plaintext left in {left}")
        if tree_bytes(infra) == before:
            return AS_BEFORE, problems
        if (
            _comparable(tree_bytes(infra)) == _comparable(reference)
            and not journal_file(infra).exists()
        ):
            return ADOPTED, problems
        in_check, next_says = reported(infra)
        if not in_check or not next_says:
            return UNREPORTED, [*problems, f"check: {in_check!r}, adopt: {next_says!r}"]
        offered = [FINISH in next_says and FINISH in in_check, UNDO in next_says]
        if prefer == "rollback" and offered[1]:
            done = run_cli("adopt", "--infra", str(infra), "apps/web", "--rollback")
            if done.returncode != 0 or tree_bytes(infra) != before:
                problems.append(f"rollback (exit {done.returncode}): {done.stderr.strip()}")
        elif offered[0]:
            done = run_cli("adopt", "--infra", str(infra), "apps/web", "--resume")
            if done.returncode != 0 or _comparable(tree_bytes(infra)) != _comparable(reference):
                problems.append(f"resume (exit {done.returncode}): {done.stderr.strip()}")
        else:
            problems.append(f"no way out offered: {next_says}")
        if check_report(infra):
            problems.append("check still reports it after the repair")
        for needle in (LEDGER_PASSWORD.encode(),):
            left = holders(infra, needle, original=original) + holders(tmp, needle)
            if left:
                problems.append(f"plaintext left after the repair in {left}")
        return DETECTED, problems


ADOPTED = "fully-adopted"
