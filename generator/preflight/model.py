"""The preflight's data: what it checks (`Target`), with what (`Credentials`), and its lines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Check", "Credentials", "Options", "Status", "Target"]

Status = Literal["ok", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    """One line of the preflight's report; `fix` says what to change when it failed."""

    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Target:
    """What the deploy job of one app repo talks to, from its `.copier-answers.yml`."""

    service: str
    registry: str
    owner: str
    buildkit_host: str
    infra_repo: str
    infra_branch: str
    infra_ssh_host: str
    infra_ssh_port: int
    deploy_cluster: str = ""

    @property
    def image(self) -> str:
        """The image the deploy job pushes, without a tag."""
        return f"{self.registry}/{self.owner}/{self.service}"

    @property
    def repository(self) -> str:
        """The image's repository path on the registry."""
        return f"{self.owner}/{self.service}"

    @property
    def known_as(self) -> str:
        """How known_hosts names the infra SSH server."""
        if self.infra_ssh_port == 22:
            return self.infra_ssh_host
        return f"[{self.infra_ssh_host}]:{self.infra_ssh_port}"


@dataclass(frozen=True)
class Credentials:
    """The deploy job's secrets, read from the variables its steps receive them in."""

    registry_creds: str = field(default="", repr=False)
    deploy_key: str = field(default="", repr=False)
    known_hosts: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        """REGISTRY_CREDS, INFRA_DEPLOY_KEY and INFRA_KNOWN_HOSTS, as cd.yml names them."""
        return cls(
            env.get("REGISTRY_CREDS", ""),
            env.get("INFRA_DEPLOY_KEY", ""),
            env.get("INFRA_KNOWN_HOSTS", ""),
        )


@dataclass(frozen=True)
class Options:
    """How hard to probe: the test upload's size and each network step's timeout."""

    upload_size: int = 64 * 1024 * 1024
    timeout: float = 10.0
