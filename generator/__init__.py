"""gitops-onboard: the generator library behind the Copier template.

The public API is what the template's tasks, the CLI and users' scripts call; every other
module is an implementation detail. Its functions are imported on first use, so that a
command that needs little (`--help`, `--version`) does not load the whole library.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from generator.errors import InputError, OnboardError, ToolError, ToolMissingError

if TYPE_CHECKING:
    from generator.onboard import init_infra, offboard, onboard_service, onboard_with_app
    from generator.spec import AppSpec, InfraSpec, ServiceSpec

__all__ = [
    "AppSpec",
    "InfraSpec",
    "InputError",
    "OnboardError",
    "ServiceSpec",
    "ToolError",
    "ToolMissingError",
    "init_infra",
    "offboard",
    "onboard_service",
    "onboard_with_app",
]

_LAZY = {
    "AppSpec": "generator.spec",
    "InfraSpec": "generator.spec",
    "ServiceSpec": "generator.spec",
    "init_infra": "generator.onboard",
    "offboard": "generator.onboard",
    "onboard_service": "generator.onboard",
    "onboard_with_app": "generator.onboard",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'generator' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
