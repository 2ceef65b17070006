"""One onboarding, one plan: what the Copier task would refuse is refused before a write.

The command line used to check the registration and the secrets, then let Copier render and
its task plan again, this time with the registry pull secret too. With `.sops.yaml` missing
the check passed, Copier rendered, the task failed: exit 1 instead of 2, two error lines (one
of them Copier's), an empty `apps/` left behind. A write that failed half-way through the
registration ended in a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from generator.cli import main
from tests.adversarial._txn import answers, listed
from tests.helpers import tree_bytes


def onboard(infra: Path, template: Path, *extra: str) -> int:
    return main(
        ["onboard", "--infra", str(infra), "--template", str(template), *answers("web"), *extra]
    )


# No secret key: only the registry pull secret needs `.sops.yaml`, and only the task planned it.
NO_SECRET_KEYS = [
    "--service",
    "web",
    "--clusters",
    "koala",
    "-d",
    "registry=gitea.example.com",
    "-d",
    "owner=team",
]


def test_a_missing_sops_config_is_refused_before_anything_is_written(
    infra_repo: Path, template_repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The pull secret needs `.sops.yaml`: refused with one line, exit 2, nothing written."""
    (infra_repo / ".sops.yaml").unlink()
    before = tree_bytes(infra_repo)
    args = ["onboard", "--infra", str(infra_repo), "--template", str(template_repo)]
    code = main([*args, *NO_SECRET_KEYS])
    err = capfd.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert ".sops.yaml" in err and "is missing" in err
    assert tree_bytes(infra_repo) == before
    assert not (infra_repo / "apps").exists()


def test_the_dry_run_refuses_it_the_same_way(
    infra_repo: Path, template_repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The dry run ran the task too, so it failed the same two-line way."""
    (infra_repo / ".sops.yaml").unlink()
    before = tree_bytes(infra_repo)
    args = ["onboard", "--infra", str(infra_repo), "--template", str(template_repo)]
    assert main([*args, *NO_SECRET_KEYS, "--dry-run"]) == 2
    err = capfd.readouterr().err
    assert len(err.splitlines()) == 1 and ".sops.yaml" in err, err
    assert tree_bytes(infra_repo) == before


@contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """Make `folder` refuse new files: mode 0555, or the immutable flag when running as root."""
    os.chmod(folder, 0o555)
    immutable = False
    try:
        probe = folder / ".probe"
        try:
            probe.write_text("x")
        except OSError:
            pass
        else:  # root ignores modes
            probe.unlink()
            done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
            if done.returncode != 0:
                pytest.skip("cannot make a folder unwritable on this machine")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        os.chmod(folder, 0o755)


def test_a_write_failure_mid_registration_prints_one_line_and_changes_nothing(
    infra_repo: Path, template_repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """koala is written first, iguana's folder takes no new file: koala must be restored."""
    before = tree_bytes(infra_repo)
    with unwritable(infra_repo / "clusters/iguana"):
        code = onboard(infra_repo, template_repo)
    err = capfd.readouterr().err
    assert code == 1, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert "clusters/iguana/kustomization.yaml" in err
    assert tree_bytes(infra_repo) == before
    assert listed(infra_repo, "koala") == []
    assert not (infra_repo / "apps").exists()
    assert not (infra_repo / "pull-secrets").exists()


def test_the_copier_task_of_an_onboarded_service_has_nothing_left_to_do(
    infra_repo: Path, template_repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The command line wrote everything the task plans: running the task changes nothing."""
    assert onboard(infra_repo, template_repo) == 0
    capfd.readouterr()
    before = tree_bytes(infra_repo)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "generator.tasks",
            "service",
            ".copier-answers.yml",
        ],
        cwd=infra_repo / "apps/web",
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr
    assert "updated" not in done.stderr
    assert tree_bytes(infra_repo) == before
