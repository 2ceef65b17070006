"""The fleet story: a template released as v1 and v2, a fleet stamped at v1, one update.

v2 fixes deployment.yaml (five kept revisions instead of three) and renames namespace.yaml
to ns.yaml with a Copier migration (`python -m generator.migrate rename`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from generator import pull_secret as pullsecret
from generator.check import check
from generator.cli import main
from generator.copier_run import copying as copier_api
from generator.kustomization import image_tag, resources, set_image_tag
from generator.onboard import init_infra, onboard_service
from tests.app_world import APPS
from tests.helpers import (
    AgeKey,
    build_and_validate,
    commit_all,
    git,
    load_yaml,
    snapshot_template,
)

SERVICES = ("web", "api", "worker")
APP_NAMES = ("portal", "ledger")
OWNER = {"registry": "gitea.example.com", "owner": "team", "clusters": ["koala"]}
IMAGE = "gitea.example.com/team/{}"
MIGRATION = """
_migrations:
  - version: v2.0.0
    when: "{{ _stage == 'before' }}"
    command:
      - "{{ _copier_python }}"
      - "-m"
      - "generator.migrate"
      - "rename"
      - "namespace.yaml"
      - "ns.yaml"
"""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def template_v1_v2(tmp_path_factory: pytest.TempPathFactory, template_repo: Path) -> Path:
    repo = snapshot_template(tmp_path_factory.mktemp("released") / "template", "v1.0.0")
    service = repo / "template/service"
    edit(service / "deployment.yaml.jinja", "revisionHistoryLimit: 3", "revisionHistoryLimit: 5")
    (service / "namespace.yaml.jinja").rename(service / "ns.yaml.jinja")
    edit(service / "kustomization.yaml.jinja", "  - namespace.yaml\n", "  - ns.yaml\n")
    edit(
        repo / "template/app/.gitea/workflows/cd.yml.jinja",
        'PUSH_ATTEMPTS: "10"',
        'PUSH_ATTEMPTS: "11"',
    )
    (repo / "copier.yml").write_text((repo / "copier.yml").read_text() + MIGRATION)
    commit_all(repo, "keep five revisions; one more push attempt; namespace.yaml is now ns.yaml")
    git("tag", "v2.0.0", cwd=repo)
    return repo


@pytest.fixture(scope="module")
def fleet_v1(
    tmp_path_factory: pytest.TempPathFactory, template_v1_v2: Path, age_key: AgeKey
) -> Path:
    """An infra repo stamped at v1 with three services; CD has deployed web once."""
    root = tmp_path_factory.mktemp("fleet") / "infra"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    recipients = {"age_recipients": [age_key.public]}
    init_infra(root, ["koala", "iguana"], str(template_v1_v2), vcs_ref="v1.0.0", extra=recipients)
    for name in SERVICES:
        onboard_service(
            root,
            {**OWNER, "service": name},
            vcs_ref="v1.0.0",
        )
    pullsecret.set_credentials(root, "registry-credentials", "gitea.example.com", "ci", "t0k")
    kustomization = root / "apps/web/kustomization.yaml"
    bumped = set_image_tag(kustomization.read_text(), IMAGE.format("web"), "3f2c1e0")
    kustomization.write_text(bumped)
    commit_all(root, "fleet at v1; web deployed")
    return root


@pytest.fixture(scope="module")
def apps_v1(tmp_path_factory: pytest.TempPathFactory, template_v1_v2: Path) -> Path:
    """Two app repos (portal, ledger) stamped at v1, in one folder."""
    root = tmp_path_factory.mktemp("apps-v1")
    for name in APP_NAMES:
        app = root / name
        app.mkdir()
        git("init", "-q", "-b", "main", cwd=app)
        data = {**APPS[name], "kind": "app"}
        if data.get("volume_type", "none") != "none":
            data.setdefault("state_dir", data["volume_mount_path"])
        copier_api.copy(str(template_v1_v2), app, data, vcs_ref="v1.0.0")
        commit_all(app, "stamp the app at v1")
    return root


@pytest.fixture
def app_repos(tmp_path: Path, apps_v1: Path) -> Path:
    root = tmp_path / "apps"
    shutil.copytree(apps_v1, root, symlinks=True)
    (tmp_path / "app-repos.txt").write_text(
        "# the app repos\n" + "".join(f"apps/{n}\n" for n in APP_NAMES)
    )
    return root


@pytest.fixture
def fleet(tmp_path: Path, fleet_v1: Path) -> Path:
    root = tmp_path / "infra"
    shutil.copytree(fleet_v1, root, symlinks=True)
    return root


def update(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, dict]]:
    code = main(["update", "--format", "json", *args])
    payload = json.loads(capsys.readouterr().out)
    return code, {r["path"]: r for r in payload["results"]}


def test_stale_fleet_updates_to_v2_and_is_then_clean(
    fleet: Path, app_repos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = check(fleet)
    assert sorted(f.path for f in before.findings if f.check == "stale") == [
        ".",
        "apps/api",
        "apps/web",
        "apps/worker",
    ]
    assert [f for f in before.findings if f.check != "stale"] == []
    apps_before = check(app_repos)
    assert sorted((f.check, f.path) for f in apps_before.findings) == [
        ("stale", "ledger"),
        ("stale", "portal"),
    ]
    assert {c.kind for c in apps_before.copies} == {"app"}

    repos = app_repos.parent / "app-repos.txt"
    code, results = update(capsys, "--to", "v2.0.0", "--repos", str(repos), str(fleet))
    assert code == 0
    app_paths = [(app_repos / name).as_posix() for name in APP_NAMES]
    assert {p: r["outcome"] for p, r in results.items()} == {
        ".": "updated",
        "apps/api": "updated",
        "apps/web": "updated",
        "apps/worker": "updated",
        **{path: "updated" for path in app_paths},
    }
    assert results["apps/web"]["version_from"] == "v1.0.0"
    assert results["apps/web"]["version_to"] == "v2.0.0"

    for name in SERVICES:
        folder = fleet / "apps" / name
        assert load_yaml(folder / "deployment.yaml")["spec"]["revisionHistoryLimit"] == 5
        assert (folder / "ns.yaml").is_file() and not (folder / "namespace.yaml").exists()
        assert resources((folder / "kustomization.yaml").read_text())[0] == "ns.yaml"
    for name in APP_NAMES:
        assert 'PUSH_ATTEMPTS: "11"' in (app_repos / name / ".gitea/workflows/cd.yml").read_text()
    # CD's tag survived, without a conflict.
    web = (fleet / "apps/web/kustomization.yaml").read_text()
    assert image_tag(web, IMAGE.format("web")) == "3f2c1e0"
    build_and_validate(fleet / "clusters/koala")
    assert check(fleet).findings == ()
    assert check(app_repos).findings == ()

    # A second run finds everything current.
    code, results = update(capsys, "--repos", str(repos), str(fleet))
    assert code == 0 and {r["outcome"] for r in results.values()} == {"current"}


def test_hand_edits_survive_or_conflict_and_dirty_copies_are_left_alone(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # web: a hand edit on a line v2 does not touch; api: on the line v2 changes.
    edit(fleet / "apps/web/service.yaml", "spec:\n", 'spec:\n  sessionAffinity: "ClientIP"\n')
    edit(fleet / "apps/api/deployment.yaml", "revisionHistoryLimit: 3", "revisionHistoryLimit: 4")
    commit_all(fleet, "hand edits")
    # worker: uncommitted work in progress.
    edit(fleet / "apps/worker/deployment.yaml", "replicas: 1", "replicas: 2")
    worker_before = (fleet / "apps/worker/deployment.yaml").read_bytes()

    code = main(["update", "--to", "v2.0.0", str(fleet)])
    table = capsys.readouterr().out
    assert code == 1
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[1:5]}
    assert rows["apps/web"][0] == "updated"
    assert rows["apps/api"][:2] == ["conflicts", "v1.0.0"]
    assert rows["apps/api"][-1] == "apps/api/deployment.yaml"
    assert rows["apps/worker"][0] == "dirty"
    # The root copy is dirty too: the worker's change is inside the repo root's folder.
    assert rows["."][0] == "dirty"
    assert table.splitlines()[-1] == (
        "4 copies: 1 updated, 0 current, 1 conflicts, 0 failed, 2 dirty"
    )

    assert 'sessionAffinity: "ClientIP"' in (fleet / "apps/web/service.yaml").read_text()
    api = (fleet / "apps/api/deployment.yaml").read_text()
    assert "<<<<<<< before updating" in api and "revisionHistoryLimit: 4" in api
    assert "revisionHistoryLimit: 5" in api
    assert (fleet / "apps/worker/deployment.yaml").read_bytes() == worker_before
    assert load_yaml(fleet / "apps/worker/.copier-answers.yml")["_commit"] == "v1.0.0"


def test_dry_run_reports_conflicts_and_changes_nothing(
    fleet: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(fleet / "apps/api/deployment.yaml", "revisionHistoryLimit: 3", "revisionHistoryLimit: 4")
    commit_all(fleet, "hand edit")
    head = git("rev-parse", "HEAD", cwd=fleet)
    files = {p: p.read_bytes() for p in fleet.rglob("*") if p.is_file() and ".git" not in p.parts}

    code, results = update(capsys, "--dry-run", str(fleet))
    assert code == 1
    assert results["apps/api"]["outcome"] == "conflicts"
    assert results["apps/api"]["files"] == ["apps/api/deployment.yaml"]
    assert {results[p]["outcome"] for p in (".", "apps/web", "apps/worker")} == {"updated"}
    assert git("rev-parse", "HEAD", cwd=fleet) == head
    assert git("status", "--porcelain", cwd=fleet) == ""
    after = {p: p.read_bytes() for p in fleet.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == files


def test_repos_file_updates_other_repos_in_parallel(
    tmp_path: Path, template_v1_v2: Path, age_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    recipients = {"age_recipients": [age_key.public]}
    one = tmp_path / "elsewhere/one"
    one.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=one)
    init_infra(one, ["koala"], str(template_v1_v2), vcs_ref="v1.0.0", extra=recipients)
    commit_all(one, "stamped at v1")
    # Two repos alike: the second a copy of the first.
    shutil.copytree(one, tmp_path / "elsewhere/two", symlinks=True)
    listing = tmp_path / "repos.txt"
    listing.write_text("# more repos\nelsewhere/one\n\nelsewhere/two  # the second\n")
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    code, results = update(capsys, "--repos", str(listing), "--jobs", "2", str(empty))
    assert code == 0
    assert {p: r["outcome"] for p, r in results.items()} == {
        (tmp_path / "elsewhere/one").as_posix(): "updated",
        (tmp_path / "elsewhere/two").as_posix(): "updated",
    }
    for name in ("one", "two"):
        answers = load_yaml(tmp_path / "elsewhere" / name / ".copier-answers.yml")
        assert answers["_commit"] == "v2.0.0"


def test_update_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["update", str(tmp_path)]) == 2
    assert "holds no stamped copy" in capsys.readouterr().err
    assert main(["update", "--repos", str(tmp_path / "missing.txt"), str(tmp_path)]) == 2
    assert "--repos: must be a readable text file" in capsys.readouterr().err
