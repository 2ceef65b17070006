"""Field rules of the app repo (`kind=app`), registered in `generator.rules.RULES`.

Each rule takes a value and returns "" when it holds, or the rule in words when it does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from generator import giturl
from generator.rules.common import absolute_path, control_character, dns1123_label, env

__all__ = ["LANGUAGES", "RULES"]

LANGUAGES = ("go", "python", "node")
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REPOSITORY = re.compile(
    rf"(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?(?::[0-9]{{1,5}})?/)?"
    rf"{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*"
)
_VERSION = re.compile(r"[0-9]+(\.[0-9]+){0,2}")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9.]*[A-Za-z0-9])?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")
_BRANCH = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
_RUNNER_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_REL_PATH = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?")
_GO_PACKAGE = re.compile(r"\.(/[A-Za-z0-9._-]+)*")
_BUILDKIT_HOST = re.compile(r"(unix|tcp|docker-container|podman-container|kube-pod)://[^\s'\"]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")
# Runtime images without a shell, where RUN cannot work.
_SHELLLESS = re.compile(r"(scratch|(.*/)?distroless/.*|cgr\.dev/chainguard/static)")


def _one_line(value: object) -> bool:
    return isinstance(value, str) and value.strip() != "" and not control_character(value)


def language(value: object) -> str:
    """The app's language: picks the builder stage and the test toolchain."""
    if value not in LANGUAGES:
        return "must be one of " + ", ".join(LANGUAGES)
    return ""


def version(value: object) -> str:
    """A toolchain version such as 1.26, 3.13 or 22."""
    if not isinstance(value, str) or not _VERSION.fullmatch(value):
        return "must be a version such as 1.26, 3.13 or 22 (quote it in YAML)"
    return ""


def image_repository(value: object) -> str:
    """An image repository without tag or digest, e.g. golang or gcr.io/distroless/static."""
    if isinstance(value, str) and ("@" in value or ":" in value.rsplit("/", 1)[-1]):
        return (
            "must be an image repository without a tag or digest, e.g. golang; "
            "the tag is its own answer"
        )
    if not isinstance(value, str) or not _IMAGE_REPOSITORY.fullmatch(value):
        return "must be an image repository such as golang or gcr.io/distroless/static-debian12"
    return ""


def infra_repo(value: object) -> str:
    """The infra repo's SSH URL (or a file:// URL for local testing)."""
    try:
        giturl.parse(value)
    except ValueError as error:
        return str(error)
    return ""


def ssh_host(value: object) -> str:
    """A host name or IP address for SSH, or empty when there is no SSH (file:// URL)."""
    if value in ("", None):
        return ""
    if not isinstance(value, str) or not (_HOSTNAME.fullmatch(value) or _IPV6.fullmatch(value)):
        return "must be a host name or IP address such as 127.0.0.1 or gitea.example.com"
    return ""


def command(value: object) -> str:
    """A one-line shell command."""
    if not _one_line(value):
        return "must be a one-line shell command"
    return ""


def commands(value: object) -> str:
    """A list of one-line shell commands (may be empty)."""
    if value is None:
        return ""
    if not isinstance(value, list):
        return "must be a list of one-line shell commands"
    for item in value:
        if not _one_line(item):
            return f"{item!r}: each entry must be a one-line shell command"
    return ""


def exec_form(value: object) -> str:
    """A non-empty argument list such as ["/usr/local/bin/web", "--serve"]."""
    if not isinstance(value, list) or not value:
        return 'must be a non-empty list of arguments, e.g. ["/usr/local/bin/web"]'
    for item in value:
        if not _one_line(item):
            return f"{item!r}: each argument must be a non-empty one-line string"
    return ""


def relative_paths(value: object) -> str:
    """A list of paths inside the repo (no leading /, no ..)."""
    if value is None:
        return ""
    if not isinstance(value, list):
        return "must be a list of paths relative to the repo root, e.g. [config/]"
    for item in value:
        if (
            not isinstance(item, str)
            or not _REL_PATH.fullmatch(item)
            or ".." in item.rstrip("/").split("/")
        ):
            return f"{item!r}: must be a path relative to the repo root without '..' or spaces"
    return ""


def ignore_patterns(value: object) -> str:
    """Extra .dockerignore patterns."""
    if value is None:
        return ""
    if not isinstance(value, list):
        return "must be a list of .dockerignore patterns"
    for item in value:
        if not _one_line(item) or str(item).lstrip().startswith("#"):
            return f"{item!r}: each pattern must be one line and not a comment"
    return ""


def go_package(value: object) -> str:
    """The Go package of the main binary, e.g. . or ./cmd/web."""
    if not isinstance(value, str) or not _GO_PACKAGE.fullmatch(value):
        return "must be a package path such as . or ./cmd/web"
    return ""


def branch(value: object) -> str:
    """A git branch name."""
    if (
        not isinstance(value, str)
        or not _BRANCH.fullmatch(value)
        or ".." in value
        or value.endswith(".lock")
        or value.startswith("-")
    ):
        return "must be a branch name such as main"
    return ""


def runner_label(value: object) -> str:
    """A Gitea runner label."""
    if not isinstance(value, str) or not _RUNNER_LABEL.fullmatch(value):
        return "must be a runner label such as self-hosted or ubuntu-latest"
    return ""


def buildkit_host(value: object) -> str:
    """The BuildKit daemon address."""
    if not isinstance(value, str) or not _BUILDKIT_HOST.fullmatch(value):
        return "must be a BuildKit address such as unix:///run/buildkit/buildkitd.sock"
    return ""


def email(value: object) -> str:
    """The commit e-mail of the CD bot."""
    if not isinstance(value, str) or not _EMAIL.fullmatch(value):
        return "must be an e-mail address such as cd-bot@example.com"
    return ""


def display_name(value: object) -> str:
    """A one-line display name."""
    if not _one_line(value):
        return "must be a non-empty one-line name"
    return ""


def optional_cluster(value: object) -> str:
    """A cluster name (a DNS-1123 label), or empty for the default."""
    if value in ("", None):
        return ""
    if problem := dns1123_label(value):
        return f"must be a cluster name or empty: {problem}"
    return ""


def optional_absolute_path(value: object) -> str:
    """An absolute path without spaces, or empty for none."""
    if value in ("", None):
        return ""
    if not isinstance(value, str) or any(c.isspace() or c in "\"'" for c in value):
        return "must be an absolute path without spaces or quotes, such as /app/data (or empty)"
    return absolute_path(value)


def app_env(value: object) -> str:
    """Environment variables baked into the image: as `env`, with one-line values."""
    if problem := env(value):
        return problem
    for key, item in (value or {}).items():  # type: ignore[attr-defined]
        if item != "" and not _one_line(item):
            return f"{key}: values baked into the image must be one line"
    return ""


def runtime_setup(value: object) -> str:
    """`[runtime_image, runtime_setup]`: set-up commands need a runtime image with a shell."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return "internal: expects [runtime_image, runtime_setup]"
    image, setup = value
    if problem := commands(setup):
        return problem
    if setup and isinstance(image, str) and _SHELLLESS.fullmatch(image):
        return f"set-up commands need a runtime image with a shell; {image} has none"
    return ""


RULES: dict[str, Callable[[object], str]] = {
    "app_env": app_env,
    "branch": branch,
    "buildkit_host": buildkit_host,
    "command": command,
    "commands": commands,
    "email": email,
    "exec_form": exec_form,
    "go_package": go_package,
    "ignore_patterns": ignore_patterns,
    "image_repository": image_repository,
    "infra_repo": infra_repo,
    "language": language,
    "display_name": display_name,
    "optional_absolute_path": optional_absolute_path,
    "optional_cluster": optional_cluster,
    "relative_paths": relative_paths,
    "runner_label": runner_label,
    "runtime_setup": runtime_setup,
    "ssh_host": ssh_host,
    "version": version,
}
