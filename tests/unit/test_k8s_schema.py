"""generator.k8s_schema: one validator per Kubernetes version and process."""

from __future__ import annotations

import pytest

from generator.errors import InputError
from generator.k8s_schema import DEFAULT_KUBERNETES_VERSION, validator_for

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"ports": [{"port": 80}]},
}


def test_a_version_gets_one_validator_that_keeps_what_it_compiled() -> None:
    validator = validator_for(DEFAULT_KUBERNETES_VERSION)
    assert validator.errors(SERVICE) == []
    assert validator_for(DEFAULT_KUBERNETES_VERSION) is validator
    assert validator_for("1.30") is not validator
    assert validator_for("1.30").version == "1.30.0"
    assert validator.errors({**SERVICE, "spek": {}}) != []


@pytest.mark.parametrize("version", ["1.x", "99.0"])
def test_a_bad_version_is_refused_every_time(version: str) -> None:
    for _ in range(2):
        with pytest.raises(InputError, match="--kubernetes-version"):
            validator_for(version)
