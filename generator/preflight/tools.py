"""The tools the deploy job runs, on PATH and new enough."""

from __future__ import annotations

import re

from generator.errors import OnboardError
from generator.preflight.model import Check
from generator.runner import run

__all__ = ["check_tools"]

# tool → (version command, oldest version that works, how to get it)
TOOLS: dict[str, tuple[list[str], tuple[int, ...], str]] = {
    "bash": (["bash", "--version"], (4, 4), "apt-get install bash"),
    "buildctl": (
        ["buildctl", "--version"],
        (0, 10),
        "install BuildKit's buildctl (github.com/moby/buildkit releases) on the runner",
    ),
    "skopeo": (["skopeo", "--version"], (1, 4), "apt-get install skopeo"),
    "git": (["git", "--version"], (2, 25), "apt-get install git"),
    "ssh": (["ssh", "-V"], (8, 0), "apt-get install openssh-client"),
    "ssh-keygen": (["ssh-keygen", "-?"], (), "apt-get install openssh-client"),
    "awk": (["awk", "-W", "version"], (), "apt-get install mawk (or gawk)"),
    "base64": (["base64", "--version"], (), "apt-get install coreutils"),
}
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def _version_line(cmd: list[str], timeout: float) -> str:
    done = run(cmd, ok_codes=range(256), timeout=timeout)
    text = (done.stdout + "\n" + done.stderr).strip()
    for line in text.splitlines():
        if _VERSION.search(line):
            return line.strip()
    return ""


def _check(name: str, timeout: float) -> Check:
    cmd, oldest, install = TOOLS[name]
    try:
        line = _version_line(cmd, timeout)
    except OnboardError:
        return Check(f"tools.{name}", "fail", f"{name} is not on PATH", install)
    if oldest:
        match = _VERSION.search(line)
        found = tuple(int(part) for part in match.groups() if part) if match else ()
        if found < oldest:
            wanted = ".".join(map(str, oldest))
            return Check(f"tools.{name}", "fail", f"{line} is older than {wanted}", install)
    return Check(f"tools.{name}", "ok", line or f"{name} found")


def check_tools(timeout: float) -> list[Check]:
    """One line per tool: its version, or why it will not do."""
    return [_check(name, timeout) for name in TOOLS]
