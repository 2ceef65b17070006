"""The user's story: stamp an infra repo, onboard services, build every cluster."""

from __future__ import annotations

from pathlib import Path

from generator.cli import main
from generator.kustomization import resources
from tests.helpers import PROJECT, build_and_validate, find


def test_supervisor_onboards_and_builds(infra_repo: Path, template_repo: Path) -> None:
    code = main(
        [
            "onboard",
            "--infra",
            str(infra_repo),
            "--template",
            str(template_repo),
            "--data-file",
            str(PROJECT / "examples/supervisor.yml"),
        ]
    )
    assert code == 0
    koala = infra_repo / "clusters/koala/kustomization.yaml"
    assert resources(koala.read_text()) == ["../../apps/supervisor"]
    assert resources((infra_repo / "clusters/iguana/kustomization.yaml").read_text()) == []
    objects = build_and_validate(infra_repo / "clusters/koala")
    deployment = find(objects, "Deployment", "supervisor")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "gitea.d-ma.be/mathias/supervisor:latest"
    )
