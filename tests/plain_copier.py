"""The two plain-Copier venvs of the contract tests, built once and kept in `.venv-copier/`.

`only`: what `pipx install 'copier…'` leaves, Copier in the range pyproject.toml pins.
`injected`: the same, then what `pipx inject copier 'gitops-onboard[infra] @ …'` installs.
Each venv records the requirements it was built from and is rebuilt when they change (a new
Copier pin, a changed dependency list); `make pytest` builds them before the run, a test run
without make builds them on first use. gitops-onboard itself changes with every edit, so
`install_working_tree` puts this tree's build into `injected` at each test session, without
its dependencies (they are the ones the venv was built with, from the same pyproject.toml).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from tests.helpers import PROJECT

HOME = PROJECT / ".venv-copier"
ONLY = HOME / "only"
INJECTED = HOME / "injected"
_STAMP = "requirements.json"

# Captured when this module is imported, before any test points HOME elsewhere: pip keeps
# its wheel cache under the real HOME.
PIP_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}


def _project() -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((PROJECT / "pyproject.toml").read_text("utf-8"))
    project: dict[str, Any] = table["project"]
    return project


def copier_requirement() -> str:
    """The Copier range gitops-onboard declares (what the getting-started page installs)."""
    return next(str(r) for r in _project()["dependencies"] if r.startswith("copier"))


def _injected_requirements() -> list[str]:
    project = _project()
    return [
        copier_requirement(),
        *project["dependencies"],
        *project["optional-dependencies"]["infra"],
    ]


def pip(venv: Path, *args: str) -> None:
    done = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", *args],
        env=PIP_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"pip install {' '.join(args)}:\n{done.stderr}"


def _ensure(venv: Path, stamp: list[str], *installs: tuple[str, ...]) -> Path:
    """`venv` built by `installs` (pip install arguments), reused while `stamp` matches."""
    recorded = venv / _STAMP
    if recorded.is_file() and json.loads(recorded.read_text(encoding="utf-8")) == stamp:
        return venv / "bin"
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for args in installs:
        pip(venv, *args)
    recorded.write_text(json.dumps(stamp), encoding="utf-8")
    return venv / "bin"


def only_copier() -> Path:
    """The bin folder of a venv that holds Copier and nothing of ours."""
    return _ensure(ONLY, [copier_requirement()], (copier_requirement(),))


def injected() -> Path:
    """The bin folder of Copier with gitops-onboard[infra] injected (any build of it)."""
    return _ensure(
        INJECTED,
        _injected_requirements(),
        (copier_requirement(),),
        (f"{PROJECT}[infra]",),
    )


def install_working_tree(bin_dir: Path, wheel_dir: Path) -> None:
    """Replace the gitops-onboard in `bin_dir`'s venv with a build of this working tree."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(wheel_dir), str(PROJECT)],
        env=PIP_ENV,
        capture_output=True,
        check=True,
    )  # fmt: skip
    (wheel,) = wheel_dir.glob("gitops_onboard-*.whl")
    pip(bin_dir.parent, "--no-deps", "--force-reinstall", str(wheel))


if __name__ == "__main__":
    print(only_copier().parent, injected().parent)
