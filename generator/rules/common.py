"""Field rules of the service and infra questions: names, ports, paths, images, quantities.

Each rule takes a value and returns "" when it holds, or the rule in words when it does not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

__all__ = ["RULES", "control_character"]

_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUANTITY = re.compile(r"([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?")
_REGISTRY = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?")
_OWNER = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def control_character(text: str) -> str:
    """The first control character or line break of `text`, as Python writes it; or ""."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return repr(char)
    return ""


def dns1035_label(value: object) -> str:
    """A Service name: what Kubernetes accepts for a Service and what we name everything."""
    if not isinstance(value, str) or not _DNS1035.fullmatch(value) or len(value) > 63:
        return (
            "must be a DNS-1035 label: lowercase letters, digits and '-', "
            "starting with a letter, ending with a letter or digit, at most 63 characters"
        )
    return ""


def dns1123_label(value: object) -> str:
    """A namespace or cluster name."""
    if not isinstance(value, str) or not _DNS1123.fullmatch(value) or len(value) > 63:
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
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
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
    if not isinstance(value, str) or not _REGISTRY.fullmatch(value):
        return "must be a registry host such as gitea.example.com or registry.local:5000"
    return ""


def owner(value: object) -> str:
    """The image path between the registry and the service (a user, org or group path)."""
    if not isinstance(value, str) or not _OWNER.fullmatch(value):
        return "must be a lowercase image path component such as mathias or team/apps"
    return ""


def quantity(value: object) -> str:
    """A Kubernetes resource quantity, or empty for none."""
    if value in ("", None):
        return ""
    if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
        return "must be a Kubernetes quantity such as 100m, 0.5, 256Mi or 1Gi (or empty)"
    return ""


def absolute_path(value: object) -> str:
    """An absolute filesystem path."""
    if not isinstance(value, str) or not value.startswith("/") or control_character(value):
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


def storage_class(value: object) -> str:
    """A StorageClass name, or empty for the cluster's default."""
    return secret_name(value)


def label_value(value: object) -> str:
    """A Kubernetes label value (the node hostname), or empty for none."""
    if value in ("", None):
        return ""
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        return "must be a label value: letters, digits, '-', '_', '.', at most 63 characters"
    return ""


def image_tag(value: object) -> str:
    """An OCI image tag."""
    if not isinstance(value, str) or not _IMAGE_TAG.fullmatch(value):
        return "must be an image tag: letters, digits, '_', '.', '-', at most 128 characters"
    return ""


_IMAGE_REF = re.compile(
    r"[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})"
)


def image_ref(value: object) -> str:
    """A pinned image reference: repository with a tag or digest."""
    if not isinstance(value, str) or not _IMAGE_REF.fullmatch(value):
        return "must be an image with a tag or digest, such as busybox:1.37"
    return ""


def ports_map(value: object) -> str:
    """Extra named ports: a mapping of port name to port number."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        return "must be a mapping of name: port, e.g. {metrics: 9090}"
    for name, number in value.items():
        if not isinstance(name, str) or not _DNS1035.fullmatch(name) or len(name) > 15:
            return f"{name!r}: port names must be lowercase names of at most 15 characters"
        if problem := port(number):
            return f"{name}: {problem}"
    return ""


RULES: dict[str, Callable[[object], str]] = {
    "absolute_path": absolute_path,
    "cluster_list": cluster_list,
    "dns1035_label": dns1035_label,
    "dns1123_label": dns1123_label,
    "env": env,
    "env_names": env_names,
    "http_path": http_path,
    "image_ref": image_ref,
    "image_tag": image_tag,
    "label_value": label_value,
    "owner": owner,
    "port": port,
    "ports_map": ports_map,
    "quantity": quantity,
    "registry": registry,
    "replicas": replicas,
    "secret_name": secret_name,
    "storage_class": storage_class,
    "user_id": user_id,
}
