"""Damage `check` and `update` must both report: lost or broken answers, leftover conflicts.

Before: with the root answers file deleted, `check` said "all current" and `update` skipped
the root without a word; a broken service answers file dropped out of `update`'s table (exit
0); conflict markers committed after a conflicted update made `update` say "current" (exit
0) and `check` show a drift diff that never said "conflict". An unreachable template was
reported as `git failed (exit 128): and the repository exists.`, and a `_commit` naming no
tag of the template as "newer; Copier never downgrades".

Every case now appears in both tools' output, exit 1, named for what it is.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from generator.check import check
from generator.cli import main
from generator.onboard import init_infra, onboard_service
from tests.helpers import AgeKey, commit_all, git, snapshot_template

WEB = {"service": "web", "registry": "gitea.example.com", "owner": "team", "clusters": ["koala"]}


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory, template_repo: Path) -> Path:
    """The template tagged v1.0.0 (as on disk) and v2.0.0 (five kept revisions, not three)."""
    repo = snapshot_template(tmp_path_factory.mktemp("released") / "template", "v1.0.0")
    deployment = repo / "template/service/deployment.yaml.jinja"
    text = deployment.read_text()
    assert "revisionHistoryLimit: 3" in text
    deployment.write_text(text.replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 5"))
    commit_all(repo, "keep five revisions")
    git("tag", "v2.0.0", cwd=repo)
    return repo


@pytest.fixture(scope="module")
def web_at_v1(
    tmp_path_factory: pytest.TempPathFactory, two_versions: Path, age_key: AgeKey
) -> Path:
    root = tmp_path_factory.mktemp("web-v1") / "infra"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    recipients = {"age_recipients": [age_key.public]}
    init_infra(root, ["koala"], str(two_versions), vcs_ref="v1.0.0", extra=recipients)
    onboard_service(root, WEB, vcs_ref="v1.0.0")
    commit_all(root, "web at v1")
    return root


@pytest.fixture
def infra(tmp_path: Path, web_at_v1: Path) -> Path:
    root = tmp_path / "infra"
    shutil.copytree(web_at_v1, root, symlinks=True)
    return root


def update(
    capsys: pytest.CaptureFixture[str], *args: str, text: bool = True
) -> tuple[int, dict[str, Any], str]:
    """`update` with JSON for the rows, then again for the table a person reads.

    The second run finds what the first updated current, and the rest as it was.
    """
    code = main(["update", "--format", "json", *args])
    rows = {r["path"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    if not text:
        return code, rows, ""
    assert main(["update", *args]) == code
    return code, rows, capsys.readouterr().out


def check_cli(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, str]:
    code = main(["check", "--offline", str(root)])
    return code, capsys.readouterr().out


# ── the root answers file is gone ────────────────────────────────────────────


@pytest.mark.parametrize("committed", [False, True], ids=["deleted", "deleted and committed"])
def test_a_deleted_root_answers_file_is_reported(
    infra: Path, committed: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    (infra / ".copier-answers.yml").unlink()
    if committed:
        commit_all(infra, "tidy up")

    [finding] = [f for f in check(infra, offline=True).findings if f.check == "answers"]
    assert finding.path == ".copier-answers.yml" and "is missing" in finding.message
    assert "git checkout" in finding.fix and "-- .copier-answers.yml" in finding.fix
    code, out = check_cli(capsys, infra)
    assert code == 1 and "all current" not in out and ".copier-answers.yml" in out

    # Copier's update of apps/web restores files deleted but not committed anywhere in the
    # repository, so the table is read from a second copy of the damaged repo.
    twin = infra.parent / "twin"
    shutil.copytree(infra, twin, symlinks=True)
    code, rows, _table = update(capsys, "--to", "v2.0.0", str(infra), text=False)
    assert code == 1
    assert rows["."]["outcome"] == "failed"
    assert ".copier-answers.yml is missing" in rows["."]["reason"]
    assert "git checkout" in rows["."]["reason"]
    assert rows["apps/web"]["outcome"] == "updated"
    assert main(["update", "--to", "v2.0.0", str(twin)]) == 1
    assert ".copier-answers.yml is missing" in capsys.readouterr().out


# ── a service answers file is broken ────────────────────────────────────────


def _drop(key: str) -> Any:
    return lambda text: "".join(
        line for line in text.splitlines(keepends=True) if not line.startswith(f"{key}:")
    )


BROKEN = {
    "invalid YAML": (lambda text: text + "_src_path: [unclosed\n", "is not valid YAML"),
    "not a mapping": (lambda text: "- web\n- koala\n", "is not a mapping"),
    "empty": (lambda text: "", "is not a mapping"),
    "no _commit": (_drop("_commit"), "records no _commit"),
    "no _src_path": (_drop("_src_path"), "records no _src_path"),
}


@pytest.mark.parametrize("damage", list(BROKEN))
def test_a_broken_service_answers_file_is_reported_by_both(
    infra: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, problem = BROKEN[damage]
    answers = infra / "apps/web/.copier-answers.yml"
    answers.write_text(edit(answers.read_text()))
    commit_all(infra, f"answers: {damage}")

    found = [f for f in check(infra, offline=True).findings if f.check == "answers"]
    assert [f.path for f in found] == ["apps/web/.copier-answers.yml"]
    assert problem in found[0].message
    code, out = check_cli(capsys, infra)
    assert code == 1 and problem in out

    code, rows, table = update(capsys, "--to", "v2.0.0", str(infra))
    assert code == 1
    assert rows["apps/web"]["outcome"] == "failed"
    assert problem in rows["apps/web"]["reason"]
    assert rows["."]["outcome"] == "updated"
    assert "apps/web" in table and problem in table


# ── conflict markers left in a committed update ─────────────────────────────


def test_conflict_markers_committed_after_an_update_are_named_by_both(
    infra: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = infra / "apps/web/deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 4")
    )
    (infra / "apps/web/NOTES.md").write_text("Notes\n=======\n\nNo conflict here.\n")
    commit_all(infra, "hand edit on the line v2 changes")
    code, rows, _table = update(capsys, "--to", "v2.0.0", str(infra), text=False)
    assert code == 1 and rows["apps/web"]["outcome"] == "conflicts"
    text = deployment.read_text()
    assert "<<<<<<< before updating" in text and ">>>>>>> after updating" in text
    # The reviewer commits the update as it is, markers and all.
    git("add", "-A", cwd=infra)
    git("commit", "-q", "-m", "update to v2", cwd=infra)
    line = 1 + text.splitlines().index("<<<<<<< before updating")
    where = f"apps/web/deployment.yaml:{line}"

    code, rows, table = update(capsys, str(infra))
    assert code == 1
    assert rows["apps/web"]["outcome"] == "conflicts"
    assert rows["apps/web"]["files"] == ["apps/web/deployment.yaml"]
    assert where in rows["apps/web"]["reason"] and "conflict markers" in rows["apps/web"]["reason"]
    assert where in table
    assert rows["."]["outcome"] == "current"

    found = [f for f in check(infra, offline=True).findings if f.check == "conflict"]
    assert [f.path for f in found] == ["apps/web/deployment.yaml"]
    assert f"line {line}" in found[0].message
    assert "<<<<<<< before updating" in found[0].message
    assert ">>>>>>> after updating" in found[0].message
    code, out = check_cli(capsys, infra)
    assert code == 1 and "conflict markers" in out and "NOTES.md" not in out


# ── what update says when it cannot update ───────────────────────────────────


def test_an_unreachable_template_is_named_with_gits_own_reason(
    infra: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = tmp_path / "moved-away"
    answers = infra / "apps/web/.copier-answers.yml"
    answers.write_text(re.sub(r"(?m)^_src_path: .*$", f"_src_path: {gone}", answers.read_text()))
    commit_all(infra, "the template moved")

    code, rows, table = update(capsys, "--allow-source", str(gone), str(infra))
    assert code == 1
    reason = rows["apps/web"]["reason"]
    assert reason.startswith(f"the template {gone} could not be read: fatal: ")
    assert "and the repository exists" not in reason
    assert "could not be read" in table


def test_a_recorded_version_the_template_never_had_is_named_as_such(
    infra: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = infra / "apps/web/.copier-answers.yml"
    answers.write_text(answers.read_text().replace("_commit: v1.0.0", "_commit: v9.9.9"))
    commit_all(infra, "a version from nowhere")

    code, rows, table = update(capsys, str(infra))
    assert code == 1
    reason = rows["apps/web"]["reason"]
    assert rows["apps/web"]["outcome"] == "failed"
    assert "v9.9.9 is not a tag of the template" in reason and "downgrade" not in reason
    assert "v9.9.9 is not a tag" in table
