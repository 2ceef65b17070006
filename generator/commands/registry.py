"""The visible `gitops-onboard` subcommands, in the order `--help` lists them."""

from __future__ import annotations

from types import ModuleType

from generator.commands import (
    adopt,
    check,
    completion,
    doctor,
    flux,
    init,
    keygen,
    offboard,
    onboard,
    preflight,
    promote,
    pull_secret,
    recipients,
    secrets,
    template,
    update,
)

__all__ = ["COMMANDS"]

COMMANDS: list[ModuleType] = [init, onboard, offboard, completion]
COMMANDS += [keygen, secrets, pull_secret, recipients, flux]
COMMANDS += [doctor, preflight]
COMMANDS += [check, update, template, adopt, promote]
