"""The `cluster_overrides` answer of a service, parsed once into typed overrides.

`parse` applies the rules of `generator.rules.overrides` and raises `InputError` on the field
`cluster_overrides`, its words naming the cluster and key (`iguana.env: ...`), before anything
is written. An override is only what differs on that cluster; everything it leaves out is the
shared answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generator.errors import InputError
from generator.rules.overrides import override_problem

__all__ = ["RESOURCE_ANSWERS", "ClusterOverride", "parse"]

FIELD = "cluster_overrides"
# The resource answers, as (answer, requests or limits, cpu or memory).
RESOURCE_ANSWERS = (
    ("cpu_request", "requests", "cpu"),
    ("memory_request", "requests", "memory"),
    ("cpu_limit", "limits", "cpu"),
    ("memory_limit", "limits", "memory"),
)


@dataclass(frozen=True)
class ClusterOverride:
    """The answers that differ on one cluster (None: the shared answer holds)."""

    replicas: int | None = None
    env: tuple[tuple[str, str], ...] = ()
    resources: tuple[tuple[str, str], ...] = ()
    hosts: tuple[str, ...] | None = None
    node_hostname: str | None = None

    @property
    def empty(self) -> bool:
        """True when nothing differs on this cluster."""
        return self == ClusterOverride()


def _one(raw: Mapping[str, Any]) -> ClusterOverride:
    env = raw.get("env") or {}
    hosts = raw.get("hosts")
    return ClusterOverride(
        replicas=raw.get("replicas"),
        env=tuple((str(k), str(v)) for k, v in env.items()),
        resources=tuple(
            (name, str(raw[name] or "")) for name, _, _ in RESOURCE_ANSWERS if name in raw
        ),
        hosts=None if hosts is None else tuple(str(h) for h in hosts),
        node_hostname=None if "node_hostname" not in raw else str(raw["node_hostname"] or ""),
    )


def parse(answers: Mapping[str, Any]) -> tuple[tuple[str, ClusterOverride], ...]:
    """The overrides of the answers, by cluster, in the order the answer lists them."""
    raw = answers.get(FIELD)
    where, problem = override_problem(
        answers.get("clusters"), raw, answers.get("expose", "none") or "none"
    )
    if problem:
        # Values are not echoed: an env value may be something the user would not show.
        raise InputError(FIELD, f"{where}: {problem}" if where else problem)
    if not raw:
        return ()
    secret = set(answers.get("secret_keys") or [])
    parsed = []
    for cluster, override in raw.items():
        one = _one(override)
        for name, _ in one.env:
            if name in secret:
                raise InputError(
                    FIELD,
                    f"{cluster}.env: {name} is in secret_keys; a name is either plain or secret",
                )
        parsed.append((str(cluster), one))
    return tuple(parsed)
