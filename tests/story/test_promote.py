"""Stage then promote: CD deployed `web` to koala; `promote` moves that image to the others.

The promotion changes the `newTag` and `digest` lines of each target overlay and nothing
else, every cluster then builds and validates with the promoted image, `--dry-run` shows
the same change and writes nothing, and a second run has nothing to do.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.cli import main
from tests.conftest import make_hermetic
from tests.helpers import PROJECT, build_and_validate, commit_all, find, git, tree_bytes
from tests.promote_world import image_of, onboard_on_clusters, overlay, set_pin

DIGEST = "sha256:" + "cd" * 32
TAG = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
CLUSTERS = ["koala", "iguana", "gecko"]


@pytest.fixture(scope="module")
def pristine_staged(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> Path:
    root = tmp_path_factory.mktemp("staged") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("staged-home"), mp)
        onboard_on_clusters(root, template_repo, "web", CLUSTERS, image_pull_secret="")
        set_pin(root, "web", "koala", TAG, DIGEST)
        commit_all(root, "web deployed to koala")
    return root


@pytest.fixture
def staged(tmp_path: Path, pristine_staged: Path) -> Path:
    root = tmp_path / "infra"
    shutil.copytree(pristine_staged, root, symlinks=True)
    return root


def _image_on(root: Path, cluster: str) -> str:
    deployment = find(build_and_validate(root / "clusters" / cluster), "Deployment", "web")
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def test_promote_to_all_moves_the_tag_and_digest_and_nothing_else(
    capsys: pytest.CaptureFixture[str], staged: Path
) -> None:
    assert _image_on(staged, "iguana") == f"{image_of('web')}:latest"
    before = {c: overlay(staged, "web", c).read_text() for c in CLUSTERS}

    assert main(["promote", "--infra", str(staged), "web", "--from", "koala", "--to", "all"]) == 0

    out = capsys.readouterr().out
    message = f"chore(promote): web {TAG} from koala to iguana, gecko"
    assert out.splitlines()[-1] == f"commit message: {message}"
    pinned = f'    newTag: "{TAG}"\n    digest: "{DIGEST}"\n'
    for cluster in ("iguana", "gecko"):
        after = overlay(staged, "web", cluster).read_text()
        assert after == before[cluster].replace('    newTag: "latest"\n', pinned)
        assert _image_on(staged, cluster) == f"{image_of('web')}:{TAG}@{DIGEST}"
    assert overlay(staged, "web", "koala").read_text() == before["koala"]
    changed = git("status", "--porcelain", cwd=staged).splitlines()
    assert sorted(changed) == sorted(
        f" M apps/web/clusters/{c}/kustomization.yaml" for c in ("iguana", "gecko")
    )

    assert main(["promote", "--infra", str(staged), "web", "--from", "koala", "--to", "all"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "nothing to do"


def test_promote_to_one_cluster_leaves_the_others(
    capsys: pytest.CaptureFixture[str], staged: Path
) -> None:
    gecko = overlay(staged, "web", "gecko").read_text()
    args = ["promote", "--infra", str(staged), "web", "--from", "koala", "--to", "iguana"]
    assert main(args) == 0
    assert overlay(staged, "web", "gecko").read_text() == gecko
    assert _image_on(staged, "iguana").endswith(f":{TAG}@{DIGEST}")
    # iguana to gecko now, which drops nothing and adds the digest too
    assert (
        main(["promote", "--infra", str(staged), "web", "--from", "iguana", "--to", "gecko"]) == 0
    )
    assert "iguana → gecko" in capsys.readouterr().out
    assert _image_on(staged, "gecko").endswith(f":{TAG}@{DIGEST}")


def test_a_source_without_a_digest_drops_the_targets_old_digest(
    capsys: pytest.CaptureFixture[str], staged: Path
) -> None:
    """A tag and a digest never name two different images."""
    set_pin(staged, "web", "iguana", "old", "sha256:" + "ee" * 32)
    set_pin(staged, "web", "koala", "hand-set")
    assert (
        main(["promote", "--infra", str(staged), "web", "--from", "koala", "--to", "iguana"]) == 0
    )
    text = overlay(staged, "web", "iguana").read_text()
    assert 'newTag: "hand-set"' in text and "digest" not in text


def test_dry_run_shows_the_change_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], staged: Path
) -> None:
    before = tree_bytes(staged)
    args = ["promote", "--infra", str(staged), "web", "--from", "koala", "--to", "all"]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert tree_bytes(staged) == before
    assert "would promote web" in out
    assert "+++ b/apps/web/clusters/gecko/kustomization.yaml" in out
    assert f'+    newTag: "{TAG}"' in out and '-    newTag: "latest"' in out

    assert main([*args, "--dry-run", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert tree_bytes(staged) == before
    assert report["dry_run"] is True
    assert report["promoted"] == ["iguana", "gecko"] and report["unchanged"] == []
    assert report["tag"] == TAG and report["digest"] == DIGEST
    assert report["image"] == image_of("web")

    assert main([*args, "--format", "json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["dry_run"] is False
    assert done["commit_message"] == report["commit_message"]
    assert done["diff"] == report["diff"]
    assert tree_bytes(staged) != before

    assert main([*args, "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["promoted"] == [] and again["unchanged"] == ["iguana", "gecko"]
    assert again["commit_message"] is None


def test_promote_runs_without_the_infra_extra(staged: Path) -> None:
    """The promote workflow installs gitops-onboard without the `infra` extra."""
    blocker = [sys.executable, str(PROJECT / "tests/without_infra_extra.py")]
    done = subprocess.run(
        [*blocker, "promote", "web", "--from", "koala", "--to", "all"],
        cwd=staged,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "commit message: chore(promote): web" in done.stdout
    assert f'newTag: "{TAG}"' in overlay(staged, "web", "gecko").read_text()
