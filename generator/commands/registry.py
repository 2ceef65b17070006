"""Every `gitops-onboard` subcommand by name, and the module that adds it to the parser.

Names only, so that a run of one command imports that command's module and the library
behind it, not every command's. The visible commands are listed in the order `--help`
shows them; the hidden ones are Copier's to call (see `generator.commands.copier_hooks`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["HIDDEN", "VISIBLE", "command_module", "visible_modules"]

VISIBLE: dict[str, str] = {
    "init": "init",
    "onboard": "onboard",
    "offboard": "offboard",
    "completion": "completion",
    "keygen": "keygen",
    "secrets": "secrets",
    "pull-secret": "pull_secret",
    "recipients": "recipients",
    "flux": "flux",
    "doctor": "doctor",
    "preflight": "preflight",
    "check": "check",
    "update": "update",
    "template": "template",
    "adopt": "adopt",
    "promote": "promote",
}
HIDDEN: dict[str, str] = {"_task": "copier_hooks", "_migrate": "copier_hooks"}


def command_module(name: str) -> ModuleType:
    """The module that adds subcommand `name` (a key of `VISIBLE` or `HIDDEN`)."""
    module = VISIBLE.get(name) or HIDDEN[name]
    return importlib.import_module(f"generator.commands.{module}")


def visible_modules() -> list[ModuleType]:
    """The modules of the visible commands, in `--help` order, each once."""
    return [command_module(name) for name in VISIBLE]
