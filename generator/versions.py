"""The versions of gitops-onboard and of the tools it drives, for `--version` and `doctor`.

It imports only the modules that ask each tool, so `gitops-onboard --version` starts without
loading the library.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from generator import git, kubectl, sops
from generator.errors import OnboardError

__all__ = ["tool_versions"]


def tool_versions() -> dict[str, str]:
    """Versions of gitops-onboard and the tools it drives ('not found' when missing)."""
    probes: dict[str, Callable[[], str]] = {
        "gitops-onboard": lambda: package_version("gitops-onboard"),
        "copier": lambda: package_version("copier"),
        "sops": sops.version,
        "kustomize": kubectl.kustomize_version,
        "git": git.version,
    }
    found = {}
    for name, probe in probes.items():
        try:
            found[name] = probe()
        except (OnboardError, PackageNotFoundError):
            found[name] = "not found"
    return found
