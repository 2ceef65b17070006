"""What a check reports: findings (each with the fix) and the status of every stamped copy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from generator.findings import Finding

__all__ = ["CopyStatus", "Deployment", "Finding", "Report"]


@dataclass(frozen=True)
class Deployment:
    """The image a service runs on one cluster, read from the file CD edits there."""

    service: str
    cluster: str
    file: str
    tag: str | None
    digest: str | None = None


@dataclass(frozen=True)
class CopyStatus:
    """A stamped copy: where it is, its kind, and its recorded and latest template versions."""

    path: str
    kind: str
    template: str
    version: str
    latest: str | None = None


@dataclass(frozen=True)
class Report:
    """Everything one check found below `root`."""

    root: Path
    copies: tuple[CopyStatus, ...] = ()
    clusters: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    offline: bool = False
    deployed: tuple[Deployment, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every copy is current and consistent."""
        return not self.findings
