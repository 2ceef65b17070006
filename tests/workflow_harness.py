"""Run the `run:` steps of a generated workflow for real, the way a Gitea runner would.

Each step's script runs under `bash --noprofile --norc -eo pipefail` (the `shell: bash`
command line of Actions runners) with the job's and the step's `env:` entries, whose
`${{ }}` expressions are filled from a context the test gives; an expression the context
lacks fails the test. `uses:` steps are skipped (the checkout is the app repo itself), and
a failing step skips the rest of the job, as on a runner.

`buildctl` and `skopeo` are the only stand-ins: recording scripts put first on PATH, because
no BuildKit daemon or registry exists here. Everything else (bash, git, ssh, awk, base64)
is the real tool.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

BUILDCTL = """#!/usr/bin/env bash
# Stand-in for buildctl: records its arguments and writes the OCI archive it was asked for.
set -euo pipefail
n=$(ls "$STANDIN_LOG" | wc -l)
printf '%s\\0' "$@" > "$STANDIN_LOG/$n-buildctl"
if [[ -n "${STANDIN_FAIL_BUILD:-}" ]]; then
  echo 'error: failed to solve: process "/bin/sh -c go build" did not complete successfully' >&2
  exit 1
fi
for arg in "$@"; do
  case "$arg" in
    type=oci,dest=*) printf 'oci image archive\\n' > "${arg#type=oci,dest=}" ;;
  esac
done
"""

SKOPEO = """#!{python}
# Stand-in for skopeo copy: records its arguments and what it found in the auth file.
import base64, hashlib, json, os, sys
args = sys.argv[1:]
log = os.environ["STANDIN_LOG"]
record = {{"argv": args}}
if "--authfile" in args:
    path = args[args.index("--authfile") + 1]
    record["authfile_mode"] = oct(os.stat(path).st_mode & 0o777)
    auths = json.load(open(path))["auths"]
    record["auths"] = {{
        host: hashlib.sha256(base64.b64decode(entry["auth"])).hexdigest()
        for host, entry in auths.items()
    }}
source = next((a for a in args if a.startswith("oci-archive:")), "")
record["source_exists"] = os.path.isfile(source.removeprefix("oci-archive:"))
if "--digestfile" in args and record["source_exists"]:
    with open(source.removeprefix("oci-archive:"), "rb") as archive:
        digest = "sha256:" + hashlib.sha256(archive.read()).hexdigest()
    with open(args[args.index("--digestfile") + 1], "w") as handle:
        handle.write(digest)
    record["digest"] = digest
n = len(os.listdir(log))
with open(os.path.join(log, f"{{n}}-skopeo"), "w") as handle:
    json.dump(record, handle)
"""


@dataclass
class StepResult:
    """One executed `run:` step."""

    name: str
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Runner:
    """A runner workspace: stand-ins, a watched TMPDIR, an empty HOME, a git config."""

    root: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    # Values that win over the workflow's own env: (retry settings, to keep tests fast)
    overrides: dict[str, str] = field(default_factory=dict)
    timeout: float = 120  # seconds a step may take before the test fails

    def __post_init__(self) -> None:
        for name in ("bin", "tmp", "home", "log", "scripts"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self._tool("buildctl", BUILDCTL)
        self._tool("skopeo", SKOPEO.format(python=sys.executable))
        self.gitconfig = self.root / "gitconfig"
        self.gitconfig.write_text("[init]\n\tdefaultBranch = main\n")

    def _tool(self, name: str, text: str) -> None:
        path = self.root / "bin" / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    @property
    def tmp(self) -> Path:
        """The runner's TMPDIR: every step must leave it empty."""
        return self.root / "tmp"

    @property
    def home(self) -> Path:
        """The runner's HOME."""
        return self.root / "home"

    def leftovers(self) -> list[str]:
        """Files a step left in TMPDIR or HOME."""
        found = [p for base in (self.tmp, self.home) for p in base.rglob("*")]
        return sorted(str(p) for p in found)

    def calls(self, tool: str) -> list[Any]:
        """What the stand-in `tool` was called with, in order."""
        records: list[Any] = []
        logs = sorted(
            (p for p in (self.root / "log").iterdir() if p.name.endswith(f"-{tool}")),
            key=lambda p: int(p.name.split("-")[0]),
        )
        for path in logs:
            if tool == "buildctl":
                records.append(path.read_text().split("\0")[:-1])
            else:
                records.append(json.loads(path.read_text()))
        return records

    def base_env(self) -> dict[str, str]:
        """The environment every step starts from (no variables of the test process)."""
        env = {
            "PATH": f"{self.root / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "LANG": "C.UTF-8",
            "GIT_CONFIG_GLOBAL": str(self.gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "STANDIN_LOG": str(self.root / "log"),
        }
        env.update(self.extra_env)
        return env

    def run_job(
        self, workflow: dict[str, Any], job: str, workdir: Path, context: dict[str, str]
    ) -> list[StepResult]:
        """Run the `run:` steps of `job` in `workdir`; stop after the first failure."""
        spec = workflow["jobs"][job]
        context = dict(context)  # grows by each step's outputs, as `steps.<id>.outputs.<name>`
        job_env = evaluate_env(spec.get("env", {}), context)
        results: list[StepResult] = []
        for index, step in enumerate(spec["steps"]):
            if "run" not in step:
                continue
            outputs = self.root / "scripts" / f"{job}-{index}.outputs"
            outputs.write_text("")
            env = {
                **self.base_env(),
                **job_env,
                **evaluate_env(step.get("env", {}), context),
                **self.overrides,
                "GITHUB_OUTPUT": str(outputs),
            }
            script = self.root / "scripts" / f"{job}-{index}.sh"
            script.write_text(step["run"])
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
            results.append(StepResult(step["name"], done.returncode, done.stdout, done.stderr))
            for line in outputs.read_text().splitlines():
                name, _, value = line.partition("=")
                context[f"steps.{step.get('id', index)}.outputs.{name}"] = value
            if done.returncode != 0:
                break
        return results


def load_workflow(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def evaluate(value: object, context: dict[str, str]) -> str:
    """Fill the `${{ }}` expressions of one `env:` value from `context`."""

    def substitute(match: re.Match[str]) -> str:
        expression = match.group(1)
        assert expression in context, f"the harness has no value for ${{{{ {expression} }}}}"
        return context[expression]

    return EXPRESSION.sub(substitute, str(value))


def evaluate_env(env: dict[str, Any], context: dict[str, str]) -> dict[str, str]:
    return {str(key): evaluate(value, context) for key, value in env.items()}


def run_scripts(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    """Every `run:` script of the workflow as (job/step name, script)."""
    found = []
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "run" in step:
                found.append((f"{job_name}/{step.get('name', '?')}", step["run"]))
    return found


def clean_dir(path: Path) -> None:
    """Empty `path` (the watched TMPDIR between runs)."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
