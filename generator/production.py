"""A service's exposure and production extras, validated from Copier answers.

`Extras.from_answers` applies the rules of `generator.rules.exposure` with the defaults of
`copier.yml`, and raises `InputError` naming the field and the rule, so the CLI refuses
what Copier's validators refuse, before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generator import rules
from generator.errors import InputError

__all__ = ["Autoscaling", "Exposure", "Extras"]


def _field(answers: Mapping[str, Any], name: str, rule: str, default: Any) -> Any:
    value = answers.get(name, default)
    if problem := rules.check(value, rule):
        raise InputError(name, problem, value)
    return value


@dataclass(frozen=True)
class Exposure:
    """How the service is reached from outside (an Ingress), and its TLS."""

    kind: str
    hosts: tuple[str, ...]
    ingress_class: str = "traefik"
    tls: str = "none"
    cluster_issuer: str = ""
    tls_secret: str = ""

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> Exposure | None:
        """The exposure the answers ask for, or None for `expose: none`."""
        kind = _field(answers, "expose", "expose", "none")
        if kind == "none":
            return None
        hosts = _field(answers, "hosts", "hosts", [])
        tls = _field(answers, "tls", "tls", "none")
        issuer = secret = ""
        if tls == "cert-manager":
            issuer = _field(answers, "cluster_issuer", "object_name", "")
        elif tls == "secret":
            secret = _field(answers, "tls_secret", "object_name", "")
        ingress_class = _field(answers, "ingress_class", "object_name", "traefik")
        return cls(kind, tuple(hosts), ingress_class, tls, issuer, secret)


@dataclass(frozen=True)
class Autoscaling:
    """A HorizontalPodAutoscaler (autoscaling/v2) on CPU utilisation."""

    min_replicas: int
    max_replicas: int
    cpu_target_percent: int

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> Autoscaling | None:
        """The autoscaler the answers ask for, or None when `autoscaling` is off."""
        if not answers.get("autoscaling", False):
            return None
        low = _field(answers, "min_replicas", "min_replicas", 2)
        high = answers.get("max_replicas", 4)
        if problem := rules.check([low, high], "replica_range"):
            raise InputError("max_replicas", problem, high)
        return cls(low, high, _field(answers, "cpu_target_percent", "percent", 80))


@dataclass(frozen=True)
class Extras:
    """Everything beyond the Deployment and Service that the answers ask for."""

    exposure: Exposure | None = None
    autoscaling: Autoscaling | None = None
    network_policy: bool = True
    ingress_namespace: str = "kube-system"
    read_only_root_filesystem: bool = True

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> Extras:
        """Validate the exposure and production answers of `kind=service`."""
        network_policy = bool(answers.get("network_policy", True))
        namespace = "kube-system"
        if network_policy:
            namespace = _field(answers, "ingress_namespace", "namespace_name", "kube-system")
        return cls(
            exposure=Exposure.from_answers(answers),
            autoscaling=Autoscaling.from_answers(answers),
            network_policy=network_policy,
            ingress_namespace=namespace,
            read_only_root_filesystem=bool(answers.get("read_only_root_filesystem", True)),
        )
