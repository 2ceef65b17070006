"""The infra extra: a missing module is one line naming the install, not a traceback."""

from __future__ import annotations

import json

import pytest

from generator.errors import OnboardError
from generator.extras import INSTALL_INFRA, MissingExtraError, infra_module


def test_an_installed_module_is_returned() -> None:
    assert infra_module("json", "reading JSON") is json


def test_a_missing_module_names_what_needs_it_and_the_install_line() -> None:
    with pytest.raises(MissingExtraError) as raised:
        infra_module("gitops_onboard_no_such_module", "making an age key")
    message = str(raised.value)
    assert message == (
        "making an age key needs gitops_onboard_no_such_module, which comes with the infra "
        f"extra: {INSTALL_INFRA}"
    )
    assert isinstance(raised.value, OnboardError)  # the CLI maps it to one line, exit 1
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_missing_parent_package_is_the_one_named() -> None:
    with pytest.raises(MissingExtraError, match="needs gitops_onboard_absent,"):
        infra_module("gitops_onboard_absent.sub", "checking a schema")
