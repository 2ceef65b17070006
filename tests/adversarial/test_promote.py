"""Hostile and damaged input to `gitops-onboard promote`.

Promotion edits the overlays of a service on several clusters. A service name or cluster
name that leaves `apps/`, an overlay that is a link to somewhere else, an overlay someone
tampered with, a source with nothing deployed: each is refused with one line, the right exit
code, and no file changed. The one edit it makes touches the image's `newTag` and `digest`
lines and nothing else, even when the overlay holds other images or a flow-style entry.
"""

from __future__ import annotations

import difflib
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from generator.cli import main
from generator.kustomization import image_tag
from generator.lock import state_dir
from generator.transaction import Change, Journal, JournalEntry, write_journal
from tests.conftest import make_hermetic
from tests.helpers import commit_all, git, tree_bytes
from tests.promote_world import image_of, onboard_on_clusters, overlay, set_pin
from tests.stage_world import (
    IMAGE,
    World,
    build_world,
    landed,
    make_jobs,
    overlay_file,
    tags,
)

DIGEST = "sha256:" + "ab" * 32
TAG = "3f2c1e0d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"


@pytest.fixture(scope="module")
def pristine_fleet(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> Path:
    """`web` on koala, iguana and gecko (koala deployed at TAG@DIGEST); `solo` on koala."""
    root = tmp_path_factory.mktemp("promote-fleet") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("promote-home"), mp)
        onboard_on_clusters(root, template_repo, "web", ["koala", "iguana", "gecko"])
        onboard_on_clusters(root, template_repo, "solo", ["koala"])
        set_pin(root, "web", "koala", TAG, DIGEST)
        commit_all(root, "web on three clusters, solo on one")
    return root


@pytest.fixture
def fleet(tmp_path: Path, pristine_fleet: Path) -> Path:
    root = tmp_path / "infra"
    shutil.copytree(pristine_fleet, root, symlinks=True)
    return root


def _refused(
    capsys: pytest.CaptureFixture[str], root: Path, argv: list[str], code: int, *words: str
) -> str:
    before = tree_bytes(root)
    assert main(["promote", "--infra", str(root), *argv]) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err
    assert tree_bytes(root) == before, "a refused promotion changed a file"
    return err


@pytest.mark.parametrize(
    "service", ["web/../solo", "../apps/web", "..", "web/clusters", "WEB", "web\nx"]
)
def test_a_service_name_that_is_not_a_label_is_refused(
    capsys: pytest.CaptureFixture[str], fleet: Path, service: str
) -> None:
    """A name with `/` or `..` would reach another folder than apps/<service>."""
    _refused(capsys, fleet, [service, "--from", "koala", "--to", "iguana"], 2, "service:")


@pytest.mark.parametrize("cluster", ["../solo", "koala/../iguana", "..", "x" * 64])
def test_a_cluster_name_with_a_path_in_it_is_refused(
    capsys: pytest.CaptureFixture[str], fleet: Path, cluster: str
) -> None:
    _refused(capsys, fleet, ["web", "--from", "koala", "--to", cluster], 2, "--to:")
    _refused(capsys, fleet, ["web", "--from", cluster, "--to", "iguana"], 2, "--from:")


def test_a_cluster_the_service_is_not_on_is_refused(
    capsys: pytest.CaptureFixture[str], fleet: Path
) -> None:
    """`solo`'s folder has no overlays: koala is a cluster of the repo, not of web's... and
    `emu` is no cluster at all."""
    err = _refused(capsys, fleet, ["web", "--from", "koala", "--to", "emu"], 2, "--to:")
    assert "koala, iguana, gecko" in err
    _refused(capsys, fleet, ["web", "--from", "emu", "--to", "all"], 2, "--from:")
    _refused(capsys, fleet, ["web", "--from", "koala", "--to", "koala"], 2, "--to:")


def test_a_service_on_one_cluster_is_refused(
    capsys: pytest.CaptureFixture[str], fleet: Path
) -> None:
    err = _refused(capsys, fleet, ["solo", "--from", "koala", "--to", "all"], 2, "service:")
    assert "one cluster" in err


def test_an_unknown_service_is_refused(capsys: pytest.CaptureFixture[str], fleet: Path) -> None:
    _refused(capsys, fleet, ["ghost", "--from", "koala", "--to", "all"], 2, "service:")


def test_a_symlinked_overlay_is_not_written_through(
    capsys: pytest.CaptureFixture[str], fleet: Path, tmp_path: Path
) -> None:
    """An overlay replaced by a link to a file outside the repo: the edit would land there."""
    outside = tmp_path / "outside.yaml"
    target = overlay(fleet, "web", "iguana")
    outside.write_text(target.read_text())
    target.unlink()
    target.symlink_to(outside)
    _refused(capsys, fleet, ["web", "--from", "koala", "--to", "iguana"], 2, "link")
    assert 'newTag: "latest"' in outside.read_text()


def test_a_symlinked_clusters_folder_is_not_written_through(
    capsys: pytest.CaptureFixture[str], fleet: Path, tmp_path: Path
) -> None:
    folder = fleet / "apps/web/clusters"
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(folder, elsewhere)
    shutil.rmtree(folder)
    folder.symlink_to(elsewhere)
    _refused(capsys, fleet, ["web", "--from", "koala", "--to", "all"], 2, "link")


def test_a_symlinked_source_overlay_is_not_read(
    capsys: pytest.CaptureFixture[str], fleet: Path, tmp_path: Path
) -> None:
    """A source linked to a file outside the repo would promote a tag nobody deployed."""
    planted = tmp_path / "planted.yaml"
    planted.write_text(overlay(fleet, "web", "koala").read_text().replace(TAG, "evil"))
    source = overlay(fleet, "web", "koala")
    source.unlink()
    source.symlink_to(planted)
    _refused(capsys, fleet, ["web", "--from", "koala", "--to", "all"], 2, "link")


def test_a_tampered_overlay_without_an_images_block_is_refused(
    capsys: pytest.CaptureFixture[str], fleet: Path
) -> None:
    target = overlay(fleet, "web", "iguana")
    text = target.read_text()
    target.write_text(text[: text.index("images:")])
    err = _refused(capsys, fleet, ["web", "--from", "koala", "--to", "all"], 1, "iguana")
    assert "images:" in err


def test_an_overlay_with_the_image_twice_is_refused(
    capsys: pytest.CaptureFixture[str], fleet: Path
) -> None:
    """Two entries for one image: kustomize applies one, a bump would set the other."""
    target = overlay(fleet, "web", "gecko")
    text = target.read_text()
    target.write_text(text + f'  - name: "{image_of("web")}"\n    newTag: "other"\n')
    _refused(capsys, fleet, ["web", "--from", "koala", "--to", "gecko"], 1, "found 2")


def test_a_missing_overlay_is_refused(capsys: pytest.CaptureFixture[str], fleet: Path) -> None:
    overlay(fleet, "web", "gecko").unlink()
    _refused(capsys, fleet, ["web", "--from", "koala", "--to", "all"], 1, "gecko", "not exist")


def test_a_source_with_no_tag_has_nothing_to_promote(
    capsys: pytest.CaptureFixture[str], fleet: Path
) -> None:
    """Exit 1, not 2: the command is right, the repo holds no deployed tag on that cluster."""
    source = overlay(fleet, "web", "koala")
    source.write_text(
        "".join(
            line
            for line in source.read_text().splitlines(keepends=True)
            if "newTag" not in line and "digest" not in line
        )
    )
    _refused(capsys, fleet, ["web", "--from", "koala", "--to", "all"], 1, "nothing to promote")


def test_a_target_entry_without_a_new_tag_line_is_refused(
    capsys: pytest.CaptureFixture[str], fleet: Path
) -> None:
    target = overlay(fleet, "web", "iguana")
    target.write_text(
        "".join(x for x in target.read_text().splitlines(keepends=True) if "newTag" not in x)
    )
    _refused(capsys, fleet, ["web", "--from", "koala", "--to", "iguana"], 1, "no newTag line")


def test_a_flow_style_source_entry_is_not_spliced_into_a_block_list(
    capsys: pytest.CaptureFixture[str], fleet: Path
) -> None:
    """The source's newTag shares its line with other keys: copying that line would rewrite
    the target's entry, so the promotion stops instead."""
    source = overlay(fleet, "web", "koala")
    text = source.read_text()
    head = text[: text.index("images:")]
    source.write_text(
        head + f'images: [{{name: "{image_of("web")}", newTag: "{TAG}", digest: "{DIGEST}"}}]\n'
    )
    _refused(capsys, fleet, ["web", "--from", "koala", "--to", "iguana"], 1, "more than newTag")


def test_a_target_tag_that_only_reads_like_the_source_tag_is_promoted(
    capsys: pytest.CaptureFixture[str], fleet: Path
) -> None:
    """`newTag: 1.10` (a hand edit, unquoted) is the tag 1.10, not the number 1.1: a source
    at "1.1" differs from it, so the promotion writes the source's lines there."""
    set_pin(fleet, "web", "koala", "1.1")
    target = overlay(fleet, "web", "iguana")
    target.write_text(target.read_text().replace('newTag: "latest"', "newTag: 1.10"))
    assert main(["promote", "--infra", str(fleet), "web", "--from", "koala", "--to", "iguana"]) == 0
    assert image_tag(target.read_text(), image_of("web")) == "1.1"
    assert 'newTag: "1.1"\n' in target.read_text()


def test_only_the_services_image_moves_when_an_overlay_holds_others(
    capsys: pytest.CaptureFixture[str], fleet: Path
) -> None:
    """A sidecar image pinned per cluster stays as each cluster has it."""
    sidecar = '  - name: "docker.io/library/redis"\n    newTag: "{}"\n'
    source, target = overlay(fleet, "web", "koala"), overlay(fleet, "web", "iguana")
    source.write_text(source.read_text() + sidecar.format("7.4-koala"))
    target.write_text(target.read_text() + sidecar.format("7.2-iguana"))
    before = target.read_text()
    assert main(["promote", "--infra", str(fleet), "web", "--from", "koala", "--to", "iguana"]) == 0
    after = target.read_text()
    assert "7.2-iguana" in after and "7.4-koala" not in after
    changed = [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changed == ['-    newTag: "latest"', f'+    newTag: "{TAG}"', f'+    digest: "{DIGEST}"']


def test_an_interrupted_promotion_is_named_by_other_commands_and_redone_by_promote(
    capsys: pytest.CaptureFixture[str], fleet: Path
) -> None:
    """A promotion killed between its overlays leaves a journal: `offboard` refuses naming
    the command that finishes it; running that command undoes the half and redoes it all."""
    commit_all(fleet, "base")
    iguana = overlay(fleet, "web", "iguana")
    old = iguana.read_text()
    new = old.replace('newTag: "latest"', f'newTag: "{TAG}"\n    digest: "{DIGEST}"')
    iguana.write_text(new)  # the first overlay was written, then the process was killed
    command = "gitops-onboard promote web --from koala --to all"
    write_journal(
        fleet,
        Journal(
            kind="promote",
            service="web",
            command=command,
            pid=999999,
            started="2026-01-01T00:00:00+00:00",
            token="dead",
            entries=(JournalEntry.of(fleet, Change(iguana, old, new)),),
            onboarding=False,
        ),
    )
    assert main(["offboard", "--infra", str(fleet), "web", "--yes"]) == 1
    err = capsys.readouterr().err
    assert f"finish it with `{command}`" in err and "undo" not in err
    assert main(["promote", "--infra", str(fleet), "web", "--from", "koala", "--to", "all"]) == 0
    for cluster in ("iguana", "gecko"):
        assert f'newTag: "{TAG}"' in overlay(fleet, "web", cluster).read_text()
    assert not (state_dir(fleet) / "journal.json").exists()


# ── the deploy job of a service with overlays, against a tampered infra repo ──────────────


@pytest.fixture(scope="module")
def cd_world(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> World:
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("cd-overlays-home"), mp)
        root = tmp_path_factory.mktemp("cd-overlays")
        return build_world(root, template_repo, pristine_infra)


def _tamper(world: World, tmp_path: Path, edit: Callable[[Path], object]) -> str:
    work = tmp_path / "tamper"
    git("clone", "-q", str(world.remote), str(work), cwd=tmp_path)
    edit(work)
    commit_all(work, "tamper")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return git("rev-parse", "refs/heads/main", cwd=world.remote)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("tampering", "says"),
    [
        # The first cluster of the answers, used as a folder name, climbs out of clusters/.
        (
            lambda w: _replace(w / "apps/web/.copier-answers.yml", "- koala\n", "- ../../..\n"),
            "deploy_cluster ../../.. is not one of the clusters",
        ),
        # The overlay CD bumps is a link to another cluster's overlay.
        (
            lambda w: (
                (w / overlay_file("koala")).unlink(),
                (w / overlay_file("koala")).symlink_to("../iguana/kustomization.yaml"),
            ),
            "is a symbolic link or lies under one",
        ),
        # The answers file is a link: the clusters it names are not the service's.
        (
            lambda w: (
                (w / "elsewhere.yml").write_text("clusters:\n- gecko\n"),
                (w / "apps/web/.copier-answers.yml").unlink(),
                (w / "apps/web/.copier-answers.yml").symlink_to("../../elsewhere.yml"),
            ),
            "cannot read the clusters of web",
        ),
        # The overlay lost its images: block.
        (
            lambda w: _replace(w / overlay_file("koala"), "images:\n", "unrelated:\n"),
            "cannot read the tag in apps/web/clusters/koala/kustomization.yaml",
        ),
    ],
    ids=["cluster-path-in-answers", "symlinked-overlay", "symlinked-answers", "no-images-block"],
)
def test_the_deploy_job_refuses_a_tampered_overlay_layout(
    cd_world: World, tmp_path: Path, tampering: Callable[[Path], object], says: str
) -> None:
    jobs = make_jobs(cd_world, tmp_path)
    head = _tamper(cd_world, tmp_path, tampering)
    results = jobs.deploy()
    assert [r.returncode for r in results] == [0, 1], results[-1].stdout + results[-1].stderr
    errors = [line for line in results[1].stderr.splitlines() if line.startswith("::error::")]
    assert len(errors) == 1 and says in errors[0], results[1].stderr
    assert git("rev-parse", "refs/heads/main", cwd=cd_world.remote) == head


def test_a_burst_of_deploys_and_promotions_loses_nothing(cd_world: World, tmp_path: Path) -> None:
    """Each round, one deploy and three promotions of the same service push at once; every
    deploy lands, every promotion copies the tag its source had in the commit it made."""
    jobs = make_jobs(cd_world, tmp_path)
    app = cd_world.apps[""]
    shas = []
    for n in range(3):
        (app / "CHANGES").write_text(f"burst {n}\n")
        commit_all(app, f"burst {n}")
        shas.append(git("rev-parse", "HEAD", cwd=app).strip())
        with ThreadPoolExecutor(max_workers=4) as pool:
            deployed = pool.submit(jobs.deploy, "", shas[-1])
            promotions = [
                pool.submit(jobs.promote, "web", "koala", to) for to in ("iguana", "gecko", "all")
            ]
            landed(deployed.result())
            for done in promotions:
                result = done.result()
                assert result.returncode == 0, result.stdout + result.stderr
    log = git("log", "--format=%H %s", "refs/heads/main", cwd=cd_world.remote).splitlines()
    deploys = [line.split(" ", 1)[1] for line in log if " chore(deploy): " in line]
    assert deploys == [f"chore(deploy): web → {sha}" for sha in reversed(shas)]
    for line in log:
        commit, subject = line.split(" ", 1)
        if not subject.startswith("chore(promote)"):
            continue
        source = image_tag(cd_world.show(overlay_file("koala"), f"{commit}~1"), IMAGE)
        assert subject.startswith(f"chore(promote): web {source} from koala to ")
        for cluster in subject.split(" to ", 1)[1].split(", "):
            assert image_tag(cd_world.show(overlay_file(cluster), commit), IMAGE) == source
    assert tags(cd_world)["koala"] == shas[-1]
    assert jobs.promote("web", "koala", "all").returncode == 0
    assert tags(cd_world) == dict.fromkeys(("koala", "iguana", "gecko"), shas[-1])
