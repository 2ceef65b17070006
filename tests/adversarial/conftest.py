"""Fixtures of the hostile-answer modules (tests/adversarial/test_input_*.py).

Session scoped: each xdist worker resolves the answer sets and onboards `web` once, however
the modules are spread over the workers.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyrage
import pytest

from generator.cli import main
from generator.copier_run.copying import resolve_answers
from tests.adversarial._input import VARIANTS
from tests.conftest import make_hermetic
from tests.helpers import commit_all


@pytest.fixture(scope="session")
def resolved(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every variant with Copier's defaults applied (a pretend copy: valid values for all)."""
    public = str(pyrage.x25519.Identity.generate().to_public())
    out: dict[str, dict[str, Any]] = {}
    for name, answers in VARIANTS.items():
        data = {**answers, "age_recipients": [public]} if answers["kind"] == "infra" else answers
        scratch = tmp_path_factory.mktemp(f"resolve-{name}")
        out[name] = {**resolve_answers(str(template_repo), scratch, data), **data}
    return out


@pytest.fixture(scope="session")
def pristine_web(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> Path:
    """The infra repo with `web` onboarded (secret key API_TOKEN), committed; read only."""
    root = tmp_path_factory.mktemp("web-infra") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("web-home"), mp)
        code = main(
            [
                "onboard",
                "--infra",
                str(root),
                "--template",
                str(template_repo),
                *("-d", "service=web", "-d", "registry=gitea.example.com", "-d", "owner=team"),
                *("-d", "clusters=[koala]", "-d", "secret_keys=[API_TOKEN]"),
            ]
        )
        assert code == 0
        commit_all(root, "onboard web")
    return root


@pytest.fixture
def web_infra(tmp_path: Path, pristine_web: Path) -> Path:
    root = tmp_path / "web-infra"
    shutil.copytree(pristine_web, root, symlinks=True)
    return root
