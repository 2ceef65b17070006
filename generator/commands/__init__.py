"""One module per `gitops-onboard` subcommand; each exposes `add_parser(subparsers)`."""

from __future__ import annotations

from types import ModuleType

from generator.commands import check, completion, init, offboard, onboard, update

__all__ = ["COMMANDS"]

COMMANDS: list[ModuleType] = [init, onboard, offboard, check, update, completion]
