"""Rules of `cluster_overrides`: the answers that differ on one cluster of a service.

`cluster_overrides` maps a cluster name to a mapping of the answers that differ there:

    cluster_overrides:
      iguana: {replicas: 3, env: {LOG_LEVEL: "warn"}, hosts: [web.example.com]}

Each check is one rule: the cluster is one of the service's clusters (`override_cluster`),
the key is one that may differ by cluster (`override_keys`), and each value holds the rule of
the answer it overrides (`env`, `replicas`, `quantity`, `hosts`, `label_value`). Hosts may
differ only for an exposed service (`override_hosts`). `cluster_overrides`, the rule of
`copier.yml`'s validator, takes `[clusters, cluster_overrides, expose]` and applies them all;
its words start with the cluster and key they are about (`iguana.env: ...`).
"""

from __future__ import annotations

from collections.abc import Callable

from generator.rules import common, exposure

__all__ = ["OVERRIDABLE", "RULES", "override_problem"]

# Each answer that may differ by cluster, with the rule its value holds.
OVERRIDABLE: dict[str, Callable[[object], str]] = {
    "replicas": common.replicas,
    "env": common.env,
    "cpu_request": common.quantity,
    "memory_request": common.quantity,
    "cpu_limit": common.quantity,
    "memory_limit": common.quantity,
    "hosts": exposure.hosts,
    "node_hostname": common.label_value,
}


def override_cluster(value: object) -> str:
    """`[clusters, cluster]`: an override names one of the service's clusters."""
    if not isinstance(value, list) or len(value) != 2:
        return "must be given with clusters"
    clusters, cluster = value
    known = [str(c) for c in clusters] if isinstance(clusters, list) else []
    if cluster not in known:
        return (
            f"{cluster!r} is not one of the service's clusters ({', '.join(known) or 'none'}); "
            "an override is only for a cluster the service runs on"
        )
    return ""


def override_keys(value: object) -> str:
    """One cluster's override: a mapping whose keys are answers that may differ by cluster."""
    if not isinstance(value, dict):
        return "must be a mapping of answer: value, e.g. {replicas: 3}"
    for key in value:
        if key not in OVERRIDABLE:
            return (
                f"{key!r} is not an answer that may differ by cluster "
                f"(one of {', '.join(OVERRIDABLE)})"
            )
    return ""


def override_hosts(value: object) -> str:
    """`expose`, when an override sets hosts: only an exposed service has hosts."""
    if value in (None, "none"):
        return "only an exposed service has hosts (expose is none)"
    return ""


def override_problem(clusters: object, overrides: object, expose: object) -> tuple[str, str]:
    """The first broken rule of `overrides`: (where, words), e.g. ("iguana.env", "...")."""
    if overrides is None:
        return "", ""
    if not isinstance(overrides, dict):
        return "", "must be a mapping of cluster: {answer: value}, e.g. {iguana: {replicas: 3}}"
    for cluster, override in overrides.items():
        if problem := override_cluster([clusters, cluster]):
            return str(cluster), problem
        if problem := override_keys(override):
            return str(cluster), problem
        assert isinstance(override, dict)
        for key, item in override.items():
            if problem := OVERRIDABLE[key](item):
                return f"{cluster}.{key}", problem
            if key == "hosts" and (problem := override_hosts(expose)):
                return f"{cluster}.{key}", problem
    return "", ""


def cluster_overrides(value: object) -> str:
    """`[clusters, cluster_overrides, expose]`: every override holds every rule above."""
    if not isinstance(value, list) or len(value) != 3:
        return (
            "must map clusters of the service to the answers that differ there "
            f"({', '.join(OVERRIDABLE)}), each value holding that answer's rule "
            "(given with clusters and expose)"
        )
    where, problem = override_problem(*value)
    if not problem:
        return ""
    return f"{where}: {problem}" if where else problem


RULES: dict[str, Callable[[object], str]] = {
    "cluster_overrides": cluster_overrides,
    "override_cluster": override_cluster,
    "override_keys": override_keys,
    "override_hosts": override_hosts,
}
