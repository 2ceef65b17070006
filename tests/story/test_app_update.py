"""`copier update` of a stamped app repo over two real tagged template versions."""

from __future__ import annotations

from pathlib import Path

from generator.copier_run import copying as copier_api
from tests.app_world import APPS
from tests.helpers import commit_all, copier_cli, git, load_yaml, snapshot_template
from tests.workflow_harness import load_workflow


def test_update_rolls_a_workflow_fix_into_the_app_and_keeps_hand_edits(tmp_path: Path) -> None:
    template = snapshot_template(tmp_path / "template", "v1.0.0")
    app = tmp_path / "portal"
    app.mkdir()
    git("init", "-q", "-b", "main", cwd=app)
    copier_api.copy(str(template), app, {**APPS["portal"], "kind": "app"}, vcs_ref="v1.0.0")
    dockerfile = app / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace(
            "EXPOSE 3000\n", 'EXPOSE 3000\nLABEL org.opencontainers.image.title="portal"\n'
        )
    )
    commit_all(app, "stamp at v1 and label the image")
    # v2 of the template: one more push attempt.
    workflow = template / "template/app/.gitea/workflows/cd.yml.jinja"
    workflow.write_text(workflow.read_text().replace('PUSH_ATTEMPTS: "10"', 'PUSH_ATTEMPTS: "11"'))
    commit_all(template, "one more push attempt")
    git("tag", "v2.0.0", cwd=template)

    assert copier_cli("update", "--trust", "--defaults", cwd=app) == 0
    assert load_yaml(app / ".copier-answers.yml")["_commit"] == "v2.0.0"
    steps = load_workflow(app / ".gitea/workflows/cd.yml")["jobs"]["deploy"]["steps"]
    assert steps[2]["env"]["PUSH_ATTEMPTS"] == "11"
    assert 'LABEL org.opencontainers.image.title="portal"' in dockerfile.read_text()
    for path in (dockerfile, app / ".gitea/workflows/cd.yml", app / ".dockerignore"):
        assert "<<<<<<<" not in path.read_text(), path
