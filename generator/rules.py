"""Field rules shared by Copier's question validators and the typed specs.

Each rule takes a value and returns "" when it holds, or the rule in words when it does not,
so `copier.yml` validators (through `generator.jinja_ext`) and `generator.spec` enforce one
definition.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["LANGUAGES", "RULES", "check"]

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_REGISTRY = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")
_OWNER = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_IMAGE_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def dns1035_label(value: object) -> str:
    """A Service name: what Kubernetes accepts for a Service and what we name everything."""
    if not isinstance(value, str) or not _DNS1035.match(value) or len(value) > 63:
        return (
            "must be a DNS-1035 label: lowercase letters, digits and '-', "
            "starting with a letter, ending with a letter or digit, at most 63 characters"
        )
    return ""


def dns1123_label(value: object) -> str:
    """A namespace or cluster name."""
    if not isinstance(value, str) or not _DNS1123.match(value) or len(value) > 63:
        return (
            "must be a DNS-1123 label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    return ""


def port(value: object) -> str:
    """A TCP port."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return "must be an integer from 1 to 65535"
    return ""


def replicas(value: object) -> str:
    """A replica count."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return "must be an integer of 0 or more"
    return ""


def user_id(value: object) -> str:
    """A numeric user id (0 means the image runs as root)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2147483647:
        return "must be an integer from 0 to 2147483647 (0 runs the container as root)"
    return ""


def env_name(value: object) -> str:
    """An environment variable name."""
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        return "names must match [A-Za-z_][A-Za-z0-9_]*"
    return ""


def env(value: object) -> str:
    """A mapping of environment variable names to string values."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        return "must be a mapping of NAME: value"
    for name, item in value.items():
        if problem := env_name(name):
            return f"{name!r}: {problem}"
        if not isinstance(item, str):
            return (
                f"{name}: values must be strings; quote it in YAML "
                f'("{item}") so it is not read as {type(item).__name__}'
            )
    return ""


def env_names(value: object) -> str:
    """A list of environment variable names (the secret keys)."""
    if value is None:
        return ""
    if not isinstance(value, list):
        return "must be a list of environment variable names"
    for name in value:
        if problem := env_name(name):
            return f"{name!r}: {problem}"
    if len(set(value)) != len(value):
        return "must not list a name twice"
    return ""


def cluster_list(value: object) -> str:
    """A non-empty list of cluster names."""
    if not isinstance(value, list) or not value:
        return "must be a non-empty list of cluster names, e.g. [koala]"
    for name in value:
        if problem := dns1123_label(name):
            return f"{name!r}: {problem}"
    if len(set(value)) != len(value):
        return "must not list a cluster twice"
    return ""


def registry(value: object) -> str:
    """A registry host, optionally with a port."""
    if not isinstance(value, str) or not _REGISTRY.match(value):
        return "must be a registry host such as gitea.example.com or registry.local:5000"
    return ""


def owner(value: object) -> str:
    """The image path between the registry and the service (a user, org or group path)."""
    if not isinstance(value, str) or not _OWNER.match(value):
        return "must be a lowercase image path component such as mathias or team/apps"
    return ""


def quantity(value: object) -> str:
    """A Kubernetes resource quantity, or empty for none."""
    if value in ("", None):
        return ""
    if not isinstance(value, str) or not _QUANTITY.match(value):
        return "must be a Kubernetes quantity such as 100m, 0.5, 256Mi or 1Gi (or empty)"
    return ""


def absolute_path(value: object) -> str:
    """An absolute filesystem path."""
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value:
        return "must be an absolute path such as /app/data"
    return ""


def http_path(value: object) -> str:
    """An HTTP path for probes, or empty for a TCP probe."""
    if value in ("", None):
        return ""
    if not isinstance(value, str) or not value.startswith("/") or any(c.isspace() for c in value):
        return "must be an HTTP path starting with / (or empty for a TCP check)"
    return ""


def secret_name(value: object) -> str:
    """A Secret name, or empty for none."""
    if value in ("", None):
        return ""
    return dns1123_label(value)


def label_value(value: object) -> str:
    """A Kubernetes label value (the node hostname), or empty for none."""
    if value in ("", None):
        return ""
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
        return "must be a label value: letters, digits, '-', '_', '.', at most 63 characters"
    return ""


def image_tag(value: object) -> str:
    """An OCI image tag."""
    if not isinstance(value, str) or not _IMAGE_TAG.match(value):
        return "must be an image tag: letters, digits, '_', '.', '-', at most 128 characters"
    return ""


def ports_map(value: object) -> str:
    """Extra named ports: a mapping of port name to port number."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        return "must be a mapping of name: port, e.g. {metrics: 9090}"
    for name, number in value.items():
        if (
            not isinstance(name, str)
            or not re.match(r"^[a-z]([-a-z0-9]*[a-z0-9])?$", name)
            or (len(name) > 15)
        ):
            return f"{name!r}: port names must be lowercase names of at most 15 characters"
        if problem := port(number):
            return f"{name}: {problem}"
    return ""


def age_recipients(value: object) -> str:
    """A non-empty list of age public keys (the recipients of the infra repo's secrets)."""
    from generator.age import recipient_problem

    if not isinstance(value, list) or not value:
        return "must be a non-empty list of age public keys, e.g. [age1...] (gitops-onboard keygen)"
    for item in value:
        if problem := recipient_problem(item):
            shown = f"{item[:12]}..." if isinstance(item, str) and len(item) > 12 else repr(item)
            return f"{shown}: {problem}"
    if len(set(value)) != len(value):
        return "must not list a key twice"
    return ""


RULES: dict[str, Callable[[object], str]] = {
    "absolute_path": absolute_path,
    "age_recipients": age_recipients,
    "cluster_list": cluster_list,
    "dns1035_label": dns1035_label,
    "dns1123_label": dns1123_label,
    "env": env,
    "env_names": env_names,
    "http_path": http_path,
    "image_tag": image_tag,
    "label_value": label_value,
    "owner": owner,
    "port": port,
    "ports_map": ports_map,
    "quantity": quantity,
    "registry": registry,
    "replicas": replicas,
    "secret_name": secret_name,
    "user_id": user_id,
}


# ── app repo (kind=app) ─────────────────────────────────────────────────────
LANGUAGES = ("go", "python", "node")
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REPOSITORY = re.compile(
    rf"^(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?(?::[0-9]{{1,5}})?/)?"
    rf"{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*$"
)
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,2}$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9.]*[A-Za-z0-9])?$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$")
_BRANCH = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_RUNNER_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_REL_PATH = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?$")
_GO_PACKAGE = re.compile(r"^\.(/[A-Za-z0-9._-]+)*$")
_BUILDKIT_HOST = re.compile(r"^(unix|tcp|docker-container|podman-container|kube-pod)://[^\s'\"]+$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$")
# Runtime images without a shell, where RUN cannot work.
_SHELLLESS = re.compile(r"^(scratch|(.*/)?distroless/.*|cgr\.dev/chainguard/static)$")


def _one_line(value: object) -> bool:
    return (
        isinstance(value, str)
        and value.strip() != ""
        and not any(ord(c) < 32 or ord(c) == 127 for c in value)
    )


def language(value: object) -> str:
    """The app's language: picks the builder stage and the test toolchain."""
    if value not in LANGUAGES:
        return "must be one of " + ", ".join(LANGUAGES)
    return ""


def version(value: object) -> str:
    """A toolchain version such as 1.26, 3.13 or 22."""
    if not isinstance(value, str) or not _VERSION.match(value):
        return "must be a version such as 1.26, 3.13 or 22 (quote it in YAML)"
    return ""


def image_repository(value: object) -> str:
    """An image repository without tag or digest, e.g. golang or gcr.io/distroless/static."""
    if isinstance(value, str) and ("@" in value or ":" in value.rsplit("/", 1)[-1]):
        return (
            "must be an image repository without a tag or digest, e.g. golang; "
            "the tag is its own answer"
        )
    if not isinstance(value, str) or not _IMAGE_REPOSITORY.match(value):
        return "must be an image repository such as golang or gcr.io/distroless/static-debian12"
    return ""


def infra_repo(value: object) -> str:
    """The infra repo's SSH URL (or a file:// URL for local testing)."""
    from generator import giturl

    try:
        giturl.parse(value)
    except ValueError as error:
        return str(error)
    return ""


def ssh_host(value: object) -> str:
    """A host name or IP address for SSH, or empty when there is no SSH (file:// URL)."""
    if value in ("", None):
        return ""
    if not isinstance(value, str) or not (_HOSTNAME.match(value) or _IPV6.match(value)):
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
            or not _REL_PATH.match(item)
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
    if not isinstance(value, str) or not _GO_PACKAGE.match(value):
        return "must be a package path such as . or ./cmd/web"
    return ""


def branch(value: object) -> str:
    """A git branch name."""
    if (
        not isinstance(value, str)
        or not _BRANCH.match(value)
        or ".." in value
        or value.endswith(".lock")
        or value.startswith("-")
    ):
        return "must be a branch name such as main"
    return ""


def runner_label(value: object) -> str:
    """A Gitea runner label."""
    if not isinstance(value, str) or not _RUNNER_LABEL.match(value):
        return "must be a runner label such as self-hosted or ubuntu-latest"
    return ""


def buildkit_host(value: object) -> str:
    """The BuildKit daemon address."""
    if not isinstance(value, str) or not _BUILDKIT_HOST.match(value):
        return "must be a BuildKit address such as unix:///run/buildkit/buildkitd.sock"
    return ""


def email(value: object) -> str:
    """The commit e-mail of the CD bot."""
    if not isinstance(value, str) or not _EMAIL.match(value):
        return "must be an e-mail address such as cd-bot@example.com"
    return ""


def display_name(value: object) -> str:
    """A one-line display name."""
    if not _one_line(value):
        return "must be a non-empty one-line name"
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
    if setup and isinstance(image, str) and _SHELLLESS.match(image):
        return f"set-up commands need a runtime image with a shell; {image} has none"
    return ""


RULES.update(
    {
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
        "relative_paths": relative_paths,
        "runner_label": runner_label,
        "runtime_setup": runtime_setup,
        "ssh_host": ssh_host,
        "version": version,
    }
)


def check(value: object, rule: str) -> str:
    """Apply the named rule; used by `copier.yml` validators as `{{ x | rule('port') }}`."""
    return RULES[rule](value)
