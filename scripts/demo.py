"""Onboard the reference service into a fresh scratch infra repo and show what it made.

Run by `make demo`. Every step is the real command a user types; the template is this
checkout (`--vcs-ref HEAD`, so uncommitted template changes are included).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DEMO = PROJECT / "build" / "demo"
BIN = Path(sys.executable).parent


def step(*cmd: str | Path, cwd: Path = PROJECT) -> str:
    shown = " ".join(shlex.quote(str(c)) for c in cmd)
    print(f"\n$ {shown}", flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, text=True, capture_output=True)
    if result.stdout:
        print(result.stdout.rstrip())
    if result.returncode != 0:
        print(result.stderr.rstrip(), file=sys.stderr)
        raise SystemExit(f"demo: step failed with exit code {result.returncode}")
    return result.stdout


def main() -> None:
    if DEMO.exists():
        shutil.rmtree(DEMO)
    infra = DEMO / "infra"
    infra.mkdir(parents=True)
    git = ["git", "-c", "user.name=Demo", "-c", "user.email=demo@example.com"]
    step("git", "init", "-q", "-b", "main", infra)
    step(
        BIN / "gitops-onboard",
        "init",
        "--template",
        PROJECT,
        "--vcs-ref",
        "HEAD",
        "--clusters",
        "koala",
        infra,
    )
    step(*git, "-C", infra, "add", "-A")
    step(*git, "-C", infra, "commit", "-q", "-m", "stamp infra repo")
    step(
        BIN / "gitops-onboard",
        "onboard",
        "--infra",
        infra,
        "--vcs-ref",
        "HEAD",
        "--data-file",
        PROJECT / "examples/supervisor.yml",
    )
    print("\n# clusters/koala/kustomization.yaml")
    print((infra / "clusters/koala/kustomization.yaml").read_text().rstrip())
    print("\n# apps/supervisor/kustomization.yaml")
    print((infra / "apps/supervisor/kustomization.yaml").read_text().rstrip())
    built = step("kubectl", "kustomize", "clusters/koala", cwd=infra)
    kinds = [
        line.split(":", 1)[1].strip() for line in built.splitlines() if line.startswith("kind:")
    ]
    print(f"\ndemo: {infra} builds to {len(kinds)} objects: {', '.join(kinds)}")


if __name__ == "__main__":
    main()
