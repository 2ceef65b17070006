"""Benchmark: `gitops-onboard check --offline` against `kubectl kustomize` of the same clusters.

For N services (default 50, 200, 500) spread over 3 clusters, it builds an infra repo and
times (median of --repeat runs):
  gitops-onboard check --offline   the whole check, as CI runs it (a fresh process)
  kubectl kustomize (3 clusters)   the three builds one after the other
and prints their ratio, the check's time per service, and its marginal time per service
between sizes (the start-up cost — imports, one template checkout — is paid once). The goal
for 500 services: at most 5x, with a flat time per service from 50 to 500.

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


def median_seconds(cmds: list[list[str]], cwd: Path, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for cmd in cmds:
            run(cmd, cwd)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200,500", help="comma-separated service counts")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("GIT_CONFIG_GLOBAL", os.devnull)
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        template = snapshot(tmp)
        for count in sizes:
            infra = build_repo(tmp, template, count)
            run([str(BIN / "gitops-onboard"), "check", "--offline", "."], infra)  # must be clean
            check = median_seconds(
                [[str(BIN / "gitops-onboard"), "check", "--offline", "."]], infra, args.repeat
            )
            kustomize = median_seconds(
                [["kubectl", "kustomize", f"clusters/{c}"] for c in CLUSTERS], infra, args.repeat
            )
            rows.append((count, check, kustomize))
            print(f"measured {count} services", file=sys.stderr)
    print(
        f"{'services':>8}{'check s':>10}{'kustomize s':>13}{'ratio':>8}"
        f"{'check ms/service':>18}{'marginal ms/service':>21}"
    )
    previous = None
    for count, check, kustomize in rows:
        marginal = ""
        if previous is not None and count > previous[0]:
            marginal = f"{1000 * (check - previous[1]) / (count - previous[0]):.1f}"
        print(
            f"{count:>8}{check:>10.2f}{kustomize:>13.2f}{check / kustomize:>7.2f}x"
            f"{1000 * check / count:>18.1f}{marginal:>21}"
        )
        previous = (count, check)
    print("marginal: the extra check time per extra service from the previous size")
    print("goal: at most 5.00x for 500 services, and a flat time per service")


if __name__ == "__main__":
    main()
