"""Benchmark: onboarding one service, with its tasks and through the CLI, against a bare copy.

Times (median of --repeat runs, each in a fresh copy of one stamped infra repo):
  copier copy --trust               the template with its registration task
  gitops-onboard onboard            the CLI (validation + Copier's Python API + the task)
  copier copy --trust --skip-tasks  the same render without the task
and prints each one's ratio to the bare copy. The goal is at most 1.5x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _bench import run, snapshot  # scripts/ is on sys.path when run as a script

from generator.age import generate

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ANSWERS = [
    "--data",
    "service=supervisor",
    "--data",
    "registry=gitea.d-ma.be",
    "--data",
    "owner=mathias",
    "--data",
    "port=3200",
    "--data",
    "clusters=[koala]",
]


def pristine_infra(tmp: Path, template: Path) -> Path:
    infra = tmp / "pristine"
    infra.mkdir()
    run(["git", "init", "-q", "-b", "main"], infra)
    run(
        [
            str(BIN / "gitops-onboard"),
            "init",
            "--template",
            str(template),
            "--clusters",
            "koala",
            "--age-recipient",
            generate().public,
            str(infra),
        ],
        tmp,
    )
    return infra


def timed(label: str, cmd_for: object, pristine: Path, tmp: Path, repeat: int) -> float:
    samples = []
    for i in range(repeat):
        infra = tmp / f"{label}-{i}"
        shutil.copytree(pristine, infra)
        cmd = cmd_for(infra)  # type: ignore[operator]
        start = time.perf_counter()
        run(cmd, infra)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("GIT_CONFIG_GLOBAL", os.devnull)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        template = snapshot(tmp)
        pristine = pristine_infra(tmp, template)
        copier = str(BIN / "copier")
        base = [
            copier,
            "copy",
            "--quiet",
            "--trust",
            "--defaults",
            "--data",
            "kind=service",
            *ANSWERS,
        ]
        bare = timed(
            "bare",
            lambda i: [*base, "--skip-tasks", str(template), str(i / "apps/supervisor")],
            pristine,
            tmp,
            args.repeat,
        )
        with_tasks = timed(
            "tasks",
            lambda i: [*base, str(template), str(i / "apps/supervisor")],
            pristine,
            tmp,
            args.repeat,
        )
        cli = timed(
            "cli",
            lambda i: [str(BIN / "gitops-onboard"), "onboard", "--infra", str(i), *ANSWERS],
            pristine,
            tmp,
            args.repeat,
        )
    print(f"{'command':<40}{'median s':>10}{'ratio':>8}")
    for label, seconds in (
        ("copier copy --skip-tasks (bare)", bare),
        ("copier copy --trust (with tasks)", with_tasks),
        ("gitops-onboard onboard", cli),
    ):
        print(f"{label:<40}{seconds:>10.3f}{seconds / bare:>7.2f}x")
    print("goal: at most 1.50x")


if __name__ == "__main__":
    main()
