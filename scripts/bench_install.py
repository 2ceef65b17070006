"""Benchmark: what installing gitops-onboard costs the app repo's check and the infra check.

Two fresh virtual environments are made from this checkout, as the stamped workflows make
theirs (`python -m venv`, then `pip install`), with pip configured as it is on this machine
(its index, find-links and cache):
  app check     pip install .            the bare package: `gitops-onboard check` of an app repo
  infra check   pip install '.[infra]'   plus the Kubernetes schemas, sops, age and jsonschema
Both install with `--no-compile`, as the workflows do. For each it prints the wall time of
`pip install`, the size of site-packages (du), and that size less the site-packages of an
empty venv (pip itself, which every venv has): what the install adds. It then runs
`gitops-onboard --version` from the new venv to prove the install works. Target: the app
check's install adds at most 40 MB.

    python scripts/bench_install.py              # both paths
    python scripts/bench_install.py --keep DIR   # leave the venvs in DIR to look inside
    python scripts/bench_install.py --compile    # with bytecode, as pip does by default
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
MB = 1_000_000
TARGET_MB = 40


@dataclass(frozen=True)
class Install:
    label: str
    requirement: str
    seconds: float
    site_packages: int  # bytes, du of site-packages
    baseline: int  # bytes, du of site-packages right after `python -m venv`


def du(path: Path) -> int:
    """Disk usage of `path` in bytes, as `du -s --block-size=1` counts it."""
    done = subprocess.run(
        ["du", "-s", "--block-size=1", str(path)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.split()[0])


def site_packages(venv: Path) -> Path:
    [found] = venv.glob("lib/python3*/site-packages")
    return found


def install(label: str, extra: str, root: Path, compile_: bool) -> Install:
    venv = root / label.replace(" ", "-")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    baseline = du(site_packages(venv))
    requirement = f"{PROJECT}{extra}"
    bytecode = [] if compile_ else ["--no-compile"]
    started = time.perf_counter()
    done = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", *bytecode, requirement],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"pip install {requirement} failed:\n{done.stderr}")
    subprocess.run([str(venv / "bin/gitops-onboard"), "--version"], check=True, capture_output=True)
    return Install(label, f"pip install '.{extra}'", seconds, du(site_packages(venv)), baseline)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="make the venvs in this folder and keep them")
    parser.add_argument(
        "--compile",
        action="store_true",
        help="write bytecode for the whole install (pip's default)",
    )
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-install-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        results = [
            install("app check", "", root, args.compile),
            install("infra check", "[infra]", root, args.compile),
        ]
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{'path':<12} {'command':<26} {'time':>8} {'site-packages':>14} {'less pip':>10}")
    for r in results:
        print(
            f"{r.label:<12} {r.requirement:<26} {r.seconds:>7.1f}s "
            f"{r.site_packages / MB:>11.1f} MB {(r.site_packages - r.baseline) / MB:>7.1f} MB"
        )
    app = results[0]
    verdict = "meets" if app.site_packages - app.baseline <= TARGET_MB * MB else "misses"
    print(f"the app check's install {verdict} the {TARGET_MB} MB target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
