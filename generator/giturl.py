"""Git URLs: the infra repo an app's CD workflow pushes to, and the template CI installs.

`parse` reads the infra repo URL. Three forms are accepted: `ssh://[user@]host[:port]/path`,
the scp-like `[user@]host:path`, and `file:///absolute/path` (a repo on the runner's disk,
for local testing). Anything else, HTTP(S) included, is refused: the workflow authenticates
with an SSH deploy key.

`pip_requirement` turns the template source Copier recorded (`_src_path`: a URL, an
scp-like address, a `gh:`/`gl:` shortcut or a local path) into the PEP 508 requirement the
stamped workflows install gitops-onboard with. A relative path (or one under `~`) names no
place a runner can reach, and is refused.

Example::

    url = parse("ssh://git@gitea.example.com:30022/platform/infra.git")
    url.host, url.port  # ("gitea.example.com", 30022)
    pip_requirement("git@gitea.example.com:platform/gitops-onboard.git", "v1.2.0", ["infra"])
    # 'gitops-onboard[infra] @ git+ssh://git@gitea.example.com/platform/gitops-onboard.git@v1.2.0'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["DISTRIBUTION", "RULE", "GitUrl", "parse", "pip_requirement", "pip_url"]

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


DISTRIBUTION = "gitops-onboard"
_ALIASES = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}  # as Copier expands them
_URL = re.compile(r"^(?:https?|ssh|git|file)://")
# What a pip URL carries as it is: no space, `@` (pip splits the revision off at the last
# one), `#`, `?` or `%`.
_PLAIN = re.compile(r"[A-Za-z0-9._~/+-]*")
_REF = re.compile(r"[A-Za-z0-9._/+-]+")
_RELATIVE = (
    "is a relative path (to the current folder or ~), which no CI runner can install "
    "gitops-onboard from; give the template as a git URL (e.g. "
    "https://gitea.example.com/platform/gitops-onboard.git) or an absolute path"
)
_CANNOT_CARRY = (
    "holds a character a pip URL cannot carry (a space or line break, @, #, ? or %); "
    "move the template to a plainer path or URL"
)


def _url_form(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        raise ValueError(
            "holds a password, which would be written into the workflows; let the runner's "
            "git credentials authenticate instead"
        )
    if parts.query or parts.fragment or not _PLAIN.fullmatch(parts.path):
        raise ValueError(_CANNOT_CARRY)
    if parts.scheme != "file" and not parts.hostname:
        raise ValueError("names no host")
    parts.port  # noqa: B018 - raises ValueError for a port out of range
    return f"git+{url}"


def pip_url(source: object) -> str:
    """The pip URL (`git+...`, without a revision) of a template source Copier accepts.

    Raise `ValueError` with the rule for a relative path or a URL pip cannot carry.
    """
    url = str(source or "").removeprefix("git+")
    if not url.isprintable() or any(char.isspace() for char in url):
        raise ValueError(_CANNOT_CARRY)  # urlsplit would drop a line break silently
    for alias, base in _ALIASES.items():
        if url.startswith(alias):
            path = url.removeprefix(alias).lstrip("/")
            url = base + path + ("" if path.endswith(".git") else ".git")
    if _URL.match(url):
        return _url_form(url)
    if match := _SCP.match(url):
        if match.end() != len(url):
            raise ValueError(_CANNOT_CARRY)
        host = match["host"].strip("[]")
        host = f"[{host}]" if ":" in host else host
        return f"git+ssh://{match['user']}{host}/{match['path'].lstrip('/')}"
    if url.startswith("/"):
        if not _PLAIN.fullmatch(url):
            raise ValueError(_CANNOT_CARRY)
        return f"git+file://{url}"
    raise ValueError(_RELATIVE)


def pip_requirement(source: object, ref: object, extras: Iterable[str] = ()) -> str:
    """`gitops-onboard[extras] @ <pip URL of source>@<ref>`, checked by `packaging`.

    `ref` is the template version Copier recorded (`_commit`: a tag, a `git describe` name or
    a commit); without one (a template folder that is no git repo) a local folder is
    installed as it is. Raise `ValueError` with the rule when pip could not use the result.
    """
    wanted = sorted(set(extras))
    name = DISTRIBUTION + (f"[{','.join(wanted)}]" if wanted else "")
    url = pip_url(source)
    if ref:
        if not _REF.fullmatch(str(ref)):
            raise ValueError(f"the template version {ref!r} is no git revision pip can fetch")
        url = f"{url}@{ref}"
    elif url.startswith("git+file://"):
        url = url.removeprefix("git+")
    text = f"{name} @ {url}"
    # Imported here: `packaging`'s grammar costs every process that loads the rules (the
    # Copier task among them) a tenth of a second, and only this check needs it.
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(text)
    except InvalidRequirement as error:
        reason = str(error).splitlines()[0]
        raise ValueError(f"gives no valid pip requirement: {reason}") from error
    return text
