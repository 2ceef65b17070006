"""Benchmark: `gitops-onboard check --offline` against `kubectl kustomize` of the same clusters.

For N services (default 50, 200, 500) spread over 3 clusters, it builds an infra repo and
times, in turns (median of --repeat runs of each; the ratio is the median of the ratios of
the runs made side by side, so a machine that is slower for a while slows both):
  gitops-onboard check --offline   the whole check, as CI runs it (a fresh process)
  kubectl kustomize (3 clusters)   the three builds one after the other
and prints their ratio, the check's time per service, its marginal time per service between
sizes (the start-up cost — imports, one template checkout — is paid once), the CPU time of
both (which a busy machine disturbs less than the wall time) and the check's peak memory. The
goal for 500 services: at most 1.5x, with a flat time per service from 50 to 500.

Then the start-up: `python -c pass` next to `gitops-onboard --version` and `--help`, and the
modules `import generator.cli` spends the most time in (`python -X importtime`).

The first service is onboarded with the real CLI (Copier copy plus its task). The others get
varied answers (ports, replicas, env, volumes, probes) and are rendered by the check's own
renderer (Copier's worker, proven equal to `copier copy` by tests/story/test_check.py), which is
much faster than N Copier runs; the check then re-renders and diffs every one of them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from _bench import run, snapshot  # noqa: E402  (scripts/ is on sys.path when run as a script)

from generator.age import generate  # noqa: E402
from generator.copier_run.render import TemplateRenderer  # noqa: E402
from generator.stamped import StampedCopy  # noqa: E402

BIN = Path(sys.executable).parent
CLUSTERS = ("koala", "iguana", "panda")


def answers_for(index: int) -> dict[str, Any]:
    name = f"svc{index:03d}"
    answers: dict[str, Any] = {
        "service": name,
        "port": 8000 + index % 1000,
        "replicas": 1 + index % 3,
        "env": {"LOG_LEVEL": "debug" if index % 2 else "info", "INDEX": str(index)},
        "probe_path": "/healthz" if index % 4 == 0 else "",
    }
    if index % 5 == 1:
        answers.update(volume_type="pvc", volume_mount_path="/data", volume_size="1Gi")
    elif index % 5 == 2:
        answers.update(
            volume_type="hostPath",
            volume_mount_path="/state",
            volume_host_path=f"/var/lib/{name}",
            node_hostname="koala",
        )
    return answers


def build_repo(tmp: Path, template: Path, count: int) -> Path:
    infra = tmp / f"infra-{count}"
    infra.mkdir()
    run(["git", "init", "-q", "-b", "main"], infra)
    gitops = str(BIN / "gitops-onboard")
    recipient = generate().public  # a throwaway age key: onboarding needs only the public key
    run(
        [
            gitops,
            "init",
            "--template",
            str(template),
            "--clusters",
            ",".join(CLUSTERS),
            "--data",
            f"age_recipients=[{recipient}]",
            ".",
        ],
        infra,
    )
    first = answers_for(0)
    data = [f"{key}={value}" for key, value in first.items() if not isinstance(value, dict)]
    run(
        [
            gitops,
            "onboard",
            "--clusters",
            CLUSTERS[0],
            "--data",
            "registry=gitea.example.com",
            "--data",
            "owner=team",
            "--data",
            'env={LOG_LEVEL: "info", INDEX: "0"}',
            *[arg for item in data for arg in ("--data", item)],
        ],
        infra,
    )
    # A registry token, so that the pull secret onboarding wrote holds credentials.
    subprocess.run(
        [gitops, "pull-secret", "set", "--registry", "gitea.example.com", "--username", "ci"],
        cwd=infra,
        input="bench-token",
        check=True,
        capture_output=True,
        text=True,
    )
    recorded = yaml.safe_load((infra / "apps/svc000/.copier-answers.yml").read_text())
    entries: dict[str, list[str]] = {c: ["../../apps/svc000"] for c in CLUSTERS[:1]}
    entries.update({c: [] for c in CLUSTERS[1:]})
    with TemplateRenderer() as renderer:
        for index in range(1, count):
            answers = {**recorded, **answers_for(index)}
            answers["namespace"] = answers["service"]
            answers["clusters"] = [CLUSTERS[index % 3]]
            folder = infra / "apps" / answers["service"]
            folder.mkdir(parents=True)
            files = renderer.render(StampedCopy(folder, ".copier-answers.yml", answers))
            for name, content in files.items():
                assert isinstance(content, bytes)
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                (folder / name).write_bytes(content)
            entries[CLUSTERS[index % 3]].append(f"../../apps/{answers['service']}")
    for cluster, listed in entries.items():
        path = infra / "clusters" / cluster / "kustomization.yaml"
        path.write_text(
            path.read_text().split("resources:")[0].rstrip("\n")
            + "\nresources:\n"
            + "".join(f"  - {entry}\n" for entry in listed)
        )
    return infra


@dataclass(frozen=True)
class Run:
    """One measured command: wall seconds, CPU seconds (its own and its children's)."""

    wall: float
    cpu: float


def _once(cmds: list[list[str]], cwd: Path) -> Run:
    """Wall and CPU time of running `cmds` one after the other."""
    wall = cpu = 0.0
    for cmd in cmds:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise subprocess.CalledProcessError(proc.returncode, cmd)
        wall += time.perf_counter() - start
        cpu += usage.ru_utime + usage.ru_stime
    return Run(wall, cpu)


def _median(runs: list[Run]) -> Run:
    return Run(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs))


def measure(cmds: list[list[str]], cwd: Path, repeat: int) -> Run:
    """The median wall and CPU time of running `cmds` one after the other."""
    return _median([_once(cmds, cwd) for _ in range(repeat)])


@dataclass(frozen=True)
class Pair:
    """Check against kustomize, measured in turns: medians, and the median of the ratios."""

    check: Run
    kustomize: Run
    ratio: float


def measure_pair(
    check: list[list[str]], kustomize: list[list[str]], cwd: Path, repeat: int
) -> Pair:
    """Run check and kustomize in turns, `repeat` times each (which goes first alternates).

    A busy machine slows whatever runs at that moment; measured side by side, both meet
    the same machine, and the ratio of each pair cancels most of it.
    """
    checks, builds = [], []
    for turn in range(repeat):
        if turn % 2:
            builds.append(_once(kustomize, cwd))
            checks.append(_once(check, cwd))
        else:
            checks.append(_once(check, cwd))
            builds.append(_once(kustomize, cwd))
    ratios = [c.wall / k.wall for c, k in zip(checks, builds, strict=True)]
    return Pair(_median(checks), _median(builds), statistics.median(ratios))


def _parents() -> dict[int, int]:
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(stat.parent.name)] = int(fields[1])
    return found


def _rss_kib(pid: int) -> int:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE") // 1024


def peak_memory(cmd: list[str], cwd: Path) -> tuple[int, int]:
    """Peak RSS in MiB of `cmd` with all its descendants (summed), and of its largest process.

    Sampled every 20 ms from /proc in a run of its own (the sampling would slow a timed run).
    """
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL)
    tree_peak = single_peak = 0
    while proc.poll() is None:
        parents = _parents()
        tree = {proc.pid}
        grew = True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= more
            grew = bool(more)
        sizes = [_rss_kib(pid) for pid in tree]
        tree_peak = max(tree_peak, sum(sizes))
        single_peak = max(single_peak, *sizes)
        time.sleep(0.02)
    return tree_peak // 1024, single_peak // 1024


def startup(repeat: int) -> list[tuple[str, float]]:
    """Median wall seconds of starting the interpreter, `--version` and `--help`."""
    gitops = str(BIN / "gitops-onboard")
    rows = []
    for label, cmd in (
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("gitops-onboard --version", [gitops, "--version"]),
        ("gitops-onboard --help", [gitops, "--help"]),
        ("gitops-onboard check --help", [gitops, "check", "--help"]),
    ):
        rows.append((label, measure([cmd], PROJECT, repeat).wall))
    return rows


_HELP_IMPORTS = "from generator.cli import build_parser; build_parser()"


def import_offenders(count: int) -> list[tuple[str, int, int]]:
    """The modules `--help` spends most time importing: (name, self µs, cumulative µs)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _HELP_IMPORTS],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            rows.append((parts[2].strip(), int(parts[0]), int(parts[1])))
    return sorted(rows, key=lambda row: row[1], reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,500", help="comma-separated service counts")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("GIT_CONFIG_GLOBAL", os.devnull)
    sizes = [int(size) for size in args.sizes.split(",")]
    gitops = str(BIN / "gitops-onboard")
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        template = snapshot(tmp)
        for count in sizes:
            infra = build_repo(tmp, template, count)
            run([gitops, "check", "--offline", "."], infra)  # must be clean
            pair = measure_pair(
                [[gitops, "check", "--offline", "."]],
                [["kubectl", "kustomize", f"clusters/{c}"] for c in CLUSTERS],
                infra,
                args.repeat,
            )
            memory = peak_memory([gitops, "check", "--offline", "."], infra)
            rows.append((count, pair, memory, os.getloadavg()[0]))
            print(f"measured {count} services", file=sys.stderr)
    print(
        f"{'services':>8}{'check s':>10}{'kustomize s':>13}{'ratio':>8}"
        f"{'check ms/service':>18}{'marginal ms/service':>21}"
        f"{'check cpu s':>13}{'kustomize cpu s':>17}{'peak MiB (tree/largest)':>25}{'load':>6}"
    )
    previous = None
    for count, pair, (tree, largest), load in rows:
        check, kustomize = pair.check, pair.kustomize
        marginal = ""
        if previous is not None and count > previous[0]:
            marginal = f"{1000 * (check.wall - previous[1]) / (count - previous[0]):.1f}"
        print(
            f"{count:>8}{check.wall:>10.2f}{kustomize.wall:>13.2f}"
            f"{pair.ratio:>7.2f}x"
            f"{1000 * check.wall / count:>18.1f}{marginal:>21}"
            f"{check.cpu:>13.2f}{kustomize.cpu:>17.2f}{f'{tree} / {largest}':>25}{load:>6.1f}"
        )
        previous = (count, check.wall)
    print("kustomize: the clusters built one after the other; check builds them in parallel")
    print("ratio: the median of check / kustomize over runs made in turns (not of the medians)")
    print("marginal: the extra check time per extra service from the previous size")
    print("cpu: user + system seconds of the process and its children (kubectl, git, workers)")
    print("peak: resident memory of check with its children summed, and of its largest process")
    print(f"load: the 1-minute load average after measuring that size ({os.cpu_count()} cores)")
    print("goal: at most 1.50x for 500 services, and a flat time per service")
    print()
    print(f"{'start-up':<30}{'s':>8}")
    for label, seconds in startup(max(5, args.repeat)):
        print(f"{label:<30}{seconds:>8.3f}")
    print()
    print(f"{'--help (build_parser): slowest imports':<48}{'self ms':>9}{'cumulative ms':>15}")
    for module, own, cumulative in import_offenders(10):
        print(f"{module:<48}{own / 1000:>9.1f}{cumulative / 1000:>15.1f}")


if __name__ == "__main__":
    main()
