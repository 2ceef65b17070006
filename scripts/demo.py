"""Onboard the reference service into a fresh scratch infra repo and show what it made.

Run by `make demo`. Every step is the real command a user types; the template is this
checkout (`--vcs-ref HEAD`, so uncommitted template changes are included).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DEMO = PROJECT / "build" / "demo"
BIN = Path(sys.executable).parent


def step(
    *cmd: str | Path,
    cwd: Path = PROJECT,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> str:
    shown = " ".join(shlex.quote(str(c)) for c in cmd)
    print(f"\n$ {shown}" + (" < (value on stdin)" if stdin is not None else ""), flush=True)
    result = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, text=True, capture_output=True, input=stdin, env=env
    )
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
    # The age key pair: the private key stays outside the repo (here: next to it, for the demo).
    key_file = DEMO / "age-key.txt"
    public = step(
        BIN / "gitops-onboard",
        "keygen",
        "--out",
        key_file,
        "--secret-manifest",
        DEMO / "sops-age.yaml",
    ).strip()
    step(
        BIN / "gitops-onboard",
        "init",
        "--template",
        PROJECT,
        "--vcs-ref",
        "HEAD",
        "--clusters",
        "koala",
        "--age-recipient",
        public,
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
    # A secret value, later, with the private key: from stdin, never from an argument.
    with_key = {**os.environ, "SOPS_AGE_KEY_FILE": str(key_file)}
    step(
        BIN / "gitops-onboard",
        "secrets",
        "set",
        "supervisor",
        "ANTHROPIC_API_KEY",
        "--infra",
        infra,
        stdin="sk-demo-not-a-real-key",
        env=with_key,
    )
    step(BIN / "gitops-onboard", "secrets", "list", "supervisor", "--infra", infra, env=with_key)
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
