"""Benchmark: `gitops-onboard update` (fast path) against bare `copier update` in each copy.

For N services (default 50, 200, 500) in one infra repo stamped at template v1.0.0, with CD
tag bumps in every 10th service and a hand edit that conflicts with v2 in every 25th, it
times updating the fleet to v2.0.0 (a changed line in deployment.yaml, a new file):
  fast     `gitops-onboard update --to v2.0.0 .` (a fresh process, both cores)
  bare     `copier update --trust --defaults --skip-answered --vcs-ref v2.0.0` in each copy,
           one after another — measured for the smallest size (or every size with
           --bare-all) and extrapolated linearly from it for the others (marked `~`)
and prints their ratio and the fast path's peak memory: its own process (maxrss) and the
largest of its child processes (the render workers, git). Goal at 500 services: fast at most
0.1x bare. `--jobs 1,2` times the fast path with each `--jobs` value in turn instead of
the default (`--sizes 8,24,48,96 --jobs 1,2` shows where a second process starts to pay).

The fleet is built as scripts/bench_check.py builds its own: the first service with the real
CLI, the others rendered by the check's renderer (proven equal to `copier copy`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _bench import run, snapshot  # scripts/ is on sys.path when run as a script
from bench_check import BIN, CLUSTERS, answers_for

from generator.age import generate
from generator.copier_run.render import TemplateRenderer
from generator.stamped import StampedCopy

TARGET = "v2.0.0"
MEASURE = """
import json, resource, sys
from generator.cli import main
code = main(sys.argv[1:])
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": code, "self_kib": me, "children_kib": kids}), file=sys.stderr)
"""


def build_repo(tmp: Path, template: Path, count: int) -> Path:
    """An infra repo with `count` services at v1.0.0: svc000 onboarded by the CLI, the others
    rendered by the check's renderer with varied answers and listed in their cluster."""
    infra = tmp / f"infra-{count}"
    infra.mkdir()
    run(["git", "init", "-q", "-b", "main"], infra)
    gitops = str(BIN / "gitops-onboard")
    recipient = generate().public
    init = ["init", "--template", str(template), "--clusters", ",".join(CLUSTERS)]
    run([gitops, *init, "--data", f"age_recipients=[{recipient}]", "."], infra)
    data = ["service=svc000", "registry=gitea.example.com", "owner=team"]
    run([gitops, "onboard", "--clusters", CLUSTERS[0], *[f"--data={d}" for d in data]], infra)
    recorded = yaml.safe_load((infra / "apps/svc000/.copier-answers.yml").read_text())
    entries: dict[str, list[str]] = {c: [] for c in CLUSTERS}
    entries[CLUSTERS[0]].append("../../apps/svc000")
    with TemplateRenderer() as renderer:
        for index in range(1, count):
            answers = {**recorded, **answers_for(index)}
            answers["namespace"] = answers["service"]
            cluster = CLUSTERS[index % 3]
            answers["clusters"] = [cluster]
            folder = infra / "apps" / answers["service"]
            files = renderer.render(StampedCopy(folder, ".copier-answers.yml", answers))
            for name, content in files.items():
                assert isinstance(content, bytes)
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(content)
            entries[cluster].append(f"../../apps/{answers['service']}")
    for cluster, listed in entries.items():
        path = infra / "clusters" / cluster / "kustomization.yaml"
        head = path.read_text().split("resources:")[0].rstrip("\n")
        path.write_text(head + "\nresources:\n" + "".join(f"  - {e}\n" for e in listed))
    return infra


def release_v2(template: Path) -> None:
    deployment = template / "template/service/deployment.yaml.jinja"
    deployment.write_text(
        deployment.read_text().replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 5")
    )
    notes = template / "template/service/NOTES.md.jinja"
    notes.write_text("# {{ service }}\n\nRun by {{ owner }}.\n")
    run(["git", "add", "-A"], template)
    run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "v2"], template)
    run(["git", "tag", TARGET], template)


def edit_and_commit(infra: Path, count: int) -> None:
    for index in range(count):
        folder = infra / "apps" / f"svc{index:03d}"
        if index % 10 == 5:
            path = folder / "kustomization.yaml"
            text = path.read_text()
            path.write_text(text.replace("newTag: latest", f"newTag: {index:07x}"))
        if index % 25 == 7:
            path = folder / "deployment.yaml"
            path.write_text(
                path.read_text().replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 4")
            )
    run(["git", "add", "-A"], infra)
    run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "v1"], infra)


def fast_update(infra: Path, jobs: str | None = None) -> tuple[float, int, int]:
    """Seconds, peak KiB of the command's process and of its largest child."""
    start = time.perf_counter()
    given = ["--jobs", jobs] if jobs else []
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, "update", "--to", TARGET, "--format", "json", *given, "."],
        cwd=infra,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    usage = yaml.safe_load(done.stderr.strip().splitlines()[-1])
    results = yaml.safe_load(done.stdout)["results"]
    fell_back = [r["path"] for r in results if r.get("note")]
    outcomes = {r["outcome"] for r in results}
    if fell_back or not outcomes <= {"updated", "conflicts"}:
        raise SystemExit(f"unexpected: {outcomes}, fell back: {fell_back[:3]}")
    return seconds, int(usage["self_kib"]), int(usage["children_kib"])


def bare_update(infra: Path, sample: int | None = None) -> float:
    folders = [infra, *sorted((infra / "apps").iterdir())][:sample]
    copier = str(BIN / "copier")
    start = time.perf_counter()
    for folder in folders:
        run(
            [copier, "update", "--trust", "--defaults", "--skip-answered", "--vcs-ref", TARGET],
            folder,
        )
        # As the fleet does: conflicts leave unmerged entries the next update cannot write.
        run(["git", "reset", "-q"], infra)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,500", help="comma-separated service counts")
    parser.add_argument("--bare-all", action="store_true", help="measure bare at every size")
    parser.add_argument(
        "--bare-sample",
        type=int,
        metavar="N",
        help="time bare on the first N copies of the smallest fleet only (per-copy estimate)",
    )
    parser.add_argument(
        "--jobs",
        metavar="LIST",
        help="comma-separated --jobs values to time the fast path with, `auto` for none given "
        "(default: auto)",
    )
    args = parser.parse_args()
    jobs_values = [None if v == "auto" else v for v in (args.jobs or "auto").split(",")]
    os.environ.setdefault("GIT_CONFIG_GLOBAL", os.devnull)
    os.environ.setdefault("GIT_AUTHOR_NAME", "b")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "b@b")
    os.environ.setdefault("GIT_COMMITTER_NAME", "b")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "b@b")
    sizes = sorted(int(size) for size in args.sizes.split(","))
    rows = []
    bare_per_copy = None
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        template = snapshot(tmp)
        fleets = {count: build_repo(tmp, template, count) for count in sizes}
        release_v2(template)
        for count in sizes:
            built = fleets[count]
            edit_and_commit(built, count)
            timed = {}
            for jobs in jobs_values:
                fast_repo = tmp / f"fast-{count}"
                shutil.copytree(built, fast_repo, symlinks=True)
                timed[jobs] = fast_update(fast_repo, jobs)
                shutil.rmtree(fast_repo)
            if bare_per_copy is None or args.bare_all:
                bare_repo = tmp / f"bare-{count}"
                shutil.copytree(built, bare_repo, symlinks=True)
                sample = None if args.bare_all else args.bare_sample
                bare = bare_update(bare_repo, sample)
                shutil.rmtree(bare_repo)
                bare_per_copy = bare / min(count + 1, sample or count + 1)
                measured = sample is None or sample >= count + 1
                bare = bare_per_copy * (count + 1)
            else:
                bare = bare_per_copy * (count + 1)
                measured = False
            shutil.rmtree(built)
            for jobs, (fast, self_kib, child_kib) in timed.items():
                rows.append((count, jobs, fast, bare, measured, self_kib, child_kib))
            print(f"measured {count} services", file=sys.stderr)
    print(
        f"{'services':>8}{'jobs':>6}{'fast s':>9}{'bare s':>10}{'ratio':>8}{'fast ms/copy':>14}"
        f"{'peak MiB':>10}{'child MiB':>11}"
    )
    for count, jobs, fast, bare, measured, self_kib, child_kib in rows:
        shown = f"{bare:.1f}" if measured else f"~{bare:.1f}"
        print(
            f"{count:>8}{jobs or 'auto':>6}{fast:>9.2f}{shown:>10}{fast / bare:>7.3f}x"
            f"{1000 * fast / (count + 1):>14.1f}"
            f"{self_kib / 1024:>10.1f}{child_kib / 1024:>11.1f}"
        )
    sampled = f"the first {args.bare_sample} copies of " if args.bare_sample else ""
    print(f"~ extrapolated from the bare time per copy of {sampled}the smallest fleet")
    print("goal: fast at most 0.1x bare for 500 services")


if __name__ == "__main__":
    main()
