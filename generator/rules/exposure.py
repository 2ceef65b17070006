"""Field rules of a service's exposure and production extras, registered in `generator.rules`.

Each rule takes a value and returns "" when it holds, or the rule in words when it does not.
Rules over two answers take them as a list (`[min_replicas, max_replicas]`), as Copier's
validators pass them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["EXPOSE", "RULES", "TLS"]

EXPOSE = ("none", "ingress")
TLS = ("none", "cert-manager", "secret")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _subdomain(value: object) -> bool:
    if not isinstance(value, str) or len(value) > 253:
        return False
    return bool(_DNS1123_SUBDOMAIN.fullmatch(value))


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def expose(value: object) -> str:
    """How the service is reached from outside the cluster."""
    if value == "httproute":
        return (
            "httproute is not offered yet (the Gateway API CRD schema it must validate against "
            "is not vendored); use ingress, or add the HTTPRoute to the service's own component"
        )
    if value not in EXPOSE:
        return f"must be one of {', '.join(EXPOSE)}"
    return ""


def host(value: object) -> str:
    """One DNS name an Ingress or HTTPRoute answers for (a leading `*.` is a wildcard)."""
    name = value[2:] if isinstance(value, str) and value.startswith("*.") else value
    if not _subdomain(name) or "." not in str(name):
        return (
            "must be a DNS name such as app.example.com: lowercase letters, digits, '-' "
            "and '.', at most 253 characters (a leading *. for a wildcard)"
        )
    return ""


def hosts(value: object) -> str:
    """The DNS names of an exposed service: at least one."""
    if not isinstance(value, list) or not value:
        return "must list at least one DNS name when the service is exposed, e.g. [app.example.com]"
    for item in value:
        if problem := host(item):
            return f"{item!r}: {problem}"
    if len(set(value)) != len(value):
        return "must not list a DNS name twice"
    return ""


def object_name(value: object) -> str:
    """The name of a cluster object (IngressClass, ClusterIssuer, Secret, Gateway)."""
    if not _subdomain(value):
        return (
            "must be a Kubernetes object name: a DNS-1123 subdomain of lowercase letters, "
            "digits, '-' and '.', starting and ending with a letter or digit"
        )
    return ""


def tls(value: object) -> str:
    """Where the certificate of an exposed service comes from."""
    if value not in TLS:
        return f"must be one of {', '.join(TLS)}"
    return ""


def namespace_name(value: object) -> str:
    """A namespace (of the ingress controller or the Gateway)."""
    if not isinstance(value, str) or len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        return "must be a namespace name: a DNS-1123 label"
    return ""


def min_replicas(value: object) -> str:
    """The fewest pods the autoscaler keeps."""
    if not _int(value) or not 1 <= value <= 1000:  # type: ignore[operator]
        return "must be an integer from 1 to 1000"
    return ""


def replica_range(value: object) -> str:
    """`[min_replicas, max_replicas]`: the most pods, at least the fewest."""
    if not isinstance(value, list) or len(value) != 2:
        return "must be given with min_replicas"
    low, high = value
    if not _int(high) or not 1 <= high <= 1000:
        return "must be an integer from 1 to 1000"
    if _int(low) and high < low:
        return f"must not be below min_replicas ({low})"
    return ""


def percent(value: object) -> str:
    """A CPU utilisation target in percent of the request."""
    if not _int(value) or not 1 <= value <= 100:  # type: ignore[operator]
        return "must be an integer from 1 to 100 (percent of the CPU request)"
    return ""


RULES: dict[str, Callable[[object], str]] = {
    "expose": expose,
    "host": host,
    "hosts": hosts,
    "object_name": object_name,
    "tls": tls,
    "namespace_name": namespace_name,
    "min_replicas": min_replicas,
    "replica_range": replica_range,
    "percent": percent,
}
