"""`gitops-onboard preflight`: whether this runner can deploy this app repo.

Checks every dependency of the stamped deploy job, one `Check` per line, each with its fix
when it fails: BuildKit, the registry (TLS, login, a large upload through the proxy), the
infra repo over SSH (TCP, pinned host key, fetch, push, the `images:` entry), and the tools
the job runs. Credentials come from the variables the job passes its secrets in
(REGISTRY_CREDS, INFRA_DEPLOY_KEY, INFRA_KNOWN_HOSTS); none is ever shown. Library code:
nothing here prints.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from generator.preflight.buildkit import check_buildkit
from generator.preflight.infra import check_infra
from generator.preflight.model import Check, Credentials, Options, Target
from generator.preflight.registry import check_registry
from generator.preflight.target import read_target
from generator.preflight.tools import check_tools

__all__ = ["SECTIONS", "Check", "Options", "Target", "run_preflight"]

SECTIONS = ("buildkit", "registry", "infra", "tools")


def run_preflight(
    app_repo: Path,
    env: Mapping[str, str],
    options: Options,
    only: Collection[str] = SECTIONS,
) -> list[Check]:
    """Every check of the sections in `only`, in order; raises `InputError` on bad answers."""
    target = read_target(app_repo, env)
    creds = Credentials.from_env(env)
    checks: list[Check] = []
    if "buildkit" in only:
        checks += check_buildkit(target.buildkit_host, options.timeout)
    if "registry" in only:
        checks += check_registry(target, creds, options)
    if "infra" in only:
        checks += check_infra(target, creds, options)
    if "tools" in only:
        checks += check_tools(options.timeout)
    return checks
