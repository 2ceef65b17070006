"""BuildKit: the socket exists, this user may open it, and the daemon answers.

The runner's failures these catch: a socket whose group the runner's user is not in (or
is in only since act_runner last started), and a buildkitd that accepts connections but
cannot work (its data dir not writable), so that `buildctl` hangs or errors.
"""

from __future__ import annotations

import os
import pwd
import socket
import stat
from pathlib import Path

from generator.errors import OnboardError
from generator.preflight.model import Check
from generator.runner import run

__all__ = ["check_buildkit"]

GROUP_FIX = (
    "add the runner's user to the group that owns the socket (`usermod -aG buildkit "
    "act_runner`; buildkitd `--group buildkit` makes the socket that group's) and restart "
    "act_runner so its processes get the new group"
)
DAEMON_FIX = (
    "buildkitd is not serving: read its log (`journalctl -u buildkit`), make its data dir "
    "(`--root`, default /var/lib/buildkit) owned by and writable for the user buildkitd runs "
    "as, restart buildkitd, then restart act_runner"
)


def _socket_checks(path: Path, timeout: float) -> list[Check]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return [
            Check(
                "buildkit.socket",
                "fail",
                f"{path} does not exist",
                "start buildkitd (`systemctl start buildkit`), or set the buildkit_host answer "
                "(or BUILDKIT_HOST) to the socket it listens on",
            )
        ]
    except PermissionError:
        mode = 0
    if mode and not stat.S_ISSOCK(mode):
        return [
            Check(
                "buildkit.socket",
                "fail",
                f"{path} is not a socket",
                "point buildkit_host at buildkitd's socket",
            )
        ]
    checks = [Check("buildkit.socket", "ok", f"{path} exists")]
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        user = f"uid {os.geteuid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(str(path))
        except PermissionError:
            info = path.stat()
            detail = (
                f"{user} may not open {path} "
                f"(mode {stat.S_IMODE(info.st_mode):o}, uid {info.st_uid}, gid {info.st_gid})"
            )
            return [*checks, Check("buildkit.access", "fail", detail, GROUP_FIX)]
        except ConnectionRefusedError:
            detail = f"no buildkitd listens on {path} (connection refused)"
            return [*checks, Check("buildkit.access", "fail", detail, DAEMON_FIX)]
        except OSError as error:
            detail = f"cannot open {path}: {error.strerror or error}"
            return [*checks, Check("buildkit.access", "fail", detail, DAEMON_FIX)]
    return [*checks, Check("buildkit.access", "ok", f"{user} may open {path}")]


def _tcp_check(address: str, timeout: float) -> list[Check]:
    hostport = address.split("://", 1)[1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError) as error:
        detail = f"cannot connect to {hostport}: {getattr(error, 'strerror', None) or error}"
        return [Check("buildkit.access", "fail", detail, DAEMON_FIX)]
    return [Check("buildkit.access", "ok", f"{hostport} accepts connections")]


def _workers(address: str, timeout: float) -> Check:
    try:
        done = run(["buildctl", "--addr", address, "debug", "workers"], timeout=timeout)
    except OnboardError as error:
        return Check("buildkit.workers", "fail", f"`buildctl debug workers`: {error}", DAEMON_FIX)
    workers = [line for line in done.stdout.splitlines()[1:] if line.strip()]
    if not workers:
        return Check("buildkit.workers", "fail", "buildkitd answers with no worker", DAEMON_FIX)
    return Check("buildkit.workers", "ok", f"buildkitd answers: {len(workers)} worker(s)")


def check_buildkit(address: str, timeout: float) -> list[Check]:
    """The socket (or TCP address), access to it, then `buildctl debug workers`."""
    if address.startswith("unix://"):
        checks = _socket_checks(Path(address.removeprefix("unix://")), timeout)
    elif address.startswith("tcp://"):
        checks = _tcp_check(address, timeout)
    else:
        checks = []
    if any(c.status == "fail" for c in checks):
        return [*checks, Check("buildkit.workers", "skip", "needs the checks above")]
    return [*checks, _workers(address, timeout)]
