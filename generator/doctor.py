"""What a machine needs to run gitops-onboard, checked one item at a time.

Each check returns a `Check` with a status and, when it is not ok, the fix. Library code:
nothing here prints; `gitops-onboard doctor` renders the list.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Literal

from generator import flux, git, kubectl, sops
from generator.clusters import list_clusters
from generator.errors import OnboardError
from generator.infra_root import find_infra_root
from generator.versions import tool_versions
from generator.walk import repo_files

__all__ = ["Check", "run_checks", "tool_versions"]

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def _tool(name: str, probe: Callable[[], str], fix: str) -> Check:
    try:
        return Check(name, "ok", probe())
    except OnboardError as error:
        return Check(name, "fail", str(error), fix)


def _copier() -> Check:
    try:
        found = package_version("copier")
    except PackageNotFoundError:
        return Check("copier", "fail", "not installed", "pip install 'copier>=9.19.1,<10'")
    major = int(found.split(".")[0])
    if major < 9:
        return Check("copier", "fail", found, "pip install 'copier>=9.19.1,<10'")
    return Check("copier", "ok", found)


def _age_key(root: Path) -> Check:
    encrypted = sorted(path for path in repo_files(root) if path.name.endswith(".enc.yaml"))
    has_key = bool(os.environ.get("SOPS_AGE_KEY") or os.environ.get("SOPS_AGE_KEY_FILE")) or (
        sops.default_key_file().is_file()
    )
    how = (
        "only reading or editing secret values needs it: export SOPS_AGE_KEY_FILE=/path/to/"
        f"keys.txt (or SOPS_AGE_KEY), or put it in {sops.default_key_file()}"
    )
    if not encrypted:
        return Check(
            "age key",
            "ok" if has_key else "warn",
            "no *.enc.yaml in this repo yet",
            "" if has_key else how,
        )
    if not has_key:
        return Check("age key", "warn", "no private key found; onboarding still works", how)
    try:
        sops.decrypt_file(encrypted[0], root=root)
    except sops.SopsError as error:
        if error.reason == "mac-mismatch":
            how = (
                "the key works but the file changed after encryption (a merge or a hand "
                "edit): restore it from git and set its values again"
            )
        return Check("age key", "fail", str(error), how)
    except OnboardError as error:
        return Check("age key", "fail", str(error), how)
    return Check("age key", "ok", f"decrypts {encrypted[0].relative_to(root)}")


def _flux(root: Path) -> Check:
    try:
        plan = flux.plan_enable(root)
    except OnboardError as error:
        return Check("flux decryption", "fail", str(error))
    missing = sorted(c for c, hits in plan.found.items() if any(h.status == "added" for h in hits))
    if missing:
        return Check(
            "flux decryption",
            "fail",
            f"not enabled for {', '.join(missing)}",
            "gitops-onboard flux enable-decryption",
        )
    edited = sorted({h.file for hits in plan.found.values() for h in hits if h.status == "moved"})
    if edited:
        return Check(
            "flux decryption",
            "fail",
            f"enabled by an edit of {', '.join(edited)}, which flux bootstrap rewrites: the "
            "next bootstrap turns decryption off",
            "gitops-onboard flux enable-decryption",
        )
    if plan.missing:
        return Check(
            "flux decryption",
            "warn",
            f"no Flux Kustomization reconciles {', '.join(plan.missing)} yet",
            "bootstrap Flux, then run gitops-onboard flux enable-decryption",
        )
    return Check("flux decryption", "ok", "enabled for " + ", ".join(plan.found))


def run_checks(path: Path) -> list[Check]:
    """Every check; the repo checks only when `path` is inside an infra repo."""
    checks = [
        _tool(
            "sops", sops.version, "pip install 'gitops-onboard[infra]' (it bundles sops >= 3.11)"
        ),
        _tool("kustomize", kubectl.kustomize_version, "install kubectl (kubectl kustomize)"),
        _tool("git", git.version, "install git"),
        _copier(),
    ]
    try:
        root = find_infra_root(path)
    except OnboardError:
        checks.append(
            Check(
                "infra repo",
                "warn",
                f"{path} is not inside an infra repo",
                "run doctor inside the infra repo to check keys and Flux",
            )
        )
        return checks
    checks.append(Check("infra repo", "ok", f"{root} ({', '.join(list_clusters(root))})"))
    checks.append(_age_key(root))
    checks.append(_flux(root))
    return checks
