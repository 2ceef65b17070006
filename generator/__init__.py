"""gitops-onboard: the generator library behind the Copier template.

The public API is what the template's tasks, the CLI and users' scripts call; every other
module is an implementation detail.
"""

from __future__ import annotations

from generator.errors import InputError, OnboardError, ToolError, ToolMissingError
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
