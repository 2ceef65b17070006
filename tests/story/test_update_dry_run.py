"""`update --dry-run` on the fast path: the report real `copier update` gives, nothing written.

The fast path renders and merges in process; with `--dry-run` it must still say what each
copy would get (updated, or the conflicting files) exactly as the dry run through real
`copier update` in throwaway clones says it, and leave the repo, its index and HEAD alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.cli import main
from generator.onboard import init_infra, onboard_service
from tests.helpers import AgeKey, commit_all, git
from tests.story.test_update_equivalence import TARGET, edit, snapshot, two_releases

OWNER = {"registry": "gitea.example.com", "owner": "team", "clusters": ["koala"]}


def dry_run(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list]:
    code = main(["update", "--dry-run", "--to", TARGET, "--format", "json", *extra, str(root)])
    return code, json.loads(capsys.readouterr().out)["results"]


def test_the_fast_dry_run_reports_what_copier_would_and_writes_nothing(
    tmp_path: Path, age_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    released = two_releases(tmp_path / "template")
    root = tmp_path / "infra"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    init_infra(
        root, ["koala"], str(released), vcs_ref="v1.0.0", extra={"age_recipients": [age_key.public]}
    )
    for name in ("api", "web"):
        onboard_service(root, {**OWNER, "service": name}, vcs_ref="v1.0.0")
    edit(root / "apps/api/deployment.yaml", "revisionHistoryLimit: 3", "revisionHistoryLimit: 4")
    commit_all(root, "fleet at v1, api edited by hand")
    head, files = git("rev-parse", "HEAD", cwd=root), snapshot(root)

    fast_code, fast = dry_run(root, capsys)

    assert [r["note"] for r in fast] == ["", "", ""]  # no copy went to Copier
    assert {r["path"]: r["outcome"] for r in fast} == {
        ".": "updated",
        "apps/api": "conflicts",
        "apps/web": "updated",
    }
    assert fast_code == 1
    assert (git("rev-parse", "HEAD", cwd=root), snapshot(root)) == (head, files)
    assert git("status", "--porcelain", cwd=root) == ""

    copier_code, through_copier = dry_run(root, capsys, "--no-fast-path")

    assert (copier_code, through_copier) == (fast_code, fast)
    assert (git("rev-parse", "HEAD", cwd=root), snapshot(root)) == (head, files)
