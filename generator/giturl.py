"""Parse the infra repo URL an app's CD workflow pushes to.

Three forms are accepted: `ssh://[user@]host[:port]/path`, the scp-like
`[user@]host:path`, and `file:///absolute/path` (a repo on the runner's disk, for local
testing). Anything else, HTTP(S) included, is refused: the workflow authenticates with an
SSH deploy key.

Example::

    url = parse("ssh://git@gitea.example.com:30022/platform/infra.git")
    url.host, url.port  # ("gitea.example.com", 30022)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["RULE", "GitUrl", "parse"]

RULE = (
    "must be an SSH URL such as ssh://git@host:22/owner/infra.git or git@host:owner/infra.git "
    "(or file:///path/to/infra.git for local testing)"
)

_HOST = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
_USER = r"(?:[A-Za-z0-9._-]+@)?"
_PATH_CHARS = r"[A-Za-z0-9._~/+-]"
_SSH = re.compile(
    rf"ssh://(?P<user>{_USER})(?P<host>{_HOST})(?::(?P<port>[0-9]{{1,5}}))?"
    rf"(?P<path>/{_PATH_CHARS}*[A-Za-z0-9._~+-])"
)
_SCP = re.compile(rf"(?P<user>{_USER})(?P<host>{_HOST}):(?P<path>{_PATH_CHARS}*[A-Za-z0-9._~+-])")
_FILE = re.compile(rf"file://(?P<path>/{_PATH_CHARS}*)")


@dataclass(frozen=True)
class GitUrl:
    """The parts of an infra repo URL."""

    scheme: Literal["ssh", "scp", "file"]
    host: str
    port: int | None
    path: str
    user: str = ""

    @property
    def is_ssh(self) -> bool:
        """True for the two SSH forms."""
        return self.scheme != "file"


def parse(url: object) -> GitUrl:
    """Parse `url`; raise `ValueError` carrying `RULE` when it is none of the three forms."""
    if not isinstance(url, str):
        raise ValueError(RULE)
    if match := _FILE.fullmatch(url):
        return GitUrl("file", "", None, match["path"])
    if match := _SSH.fullmatch(url):
        port = int(match["port"]) if match["port"] else None
        if port is not None and not 1 <= port <= 65535:
            raise ValueError("the port in the URL must be from 1 to 65535")
        host = match["host"].strip("[]")
        return GitUrl("ssh", host, port, match["path"], match["user"].rstrip("@"))
    if "://" not in url and (match := _SCP.fullmatch(url)):
        host = match["host"].strip("[]")
        return GitUrl("scp", host, None, match["path"], match["user"].rstrip("@"))
    raise ValueError(RULE)
