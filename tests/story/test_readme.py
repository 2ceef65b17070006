"""The README, as a new user reads it: its two first commands, and its quick start run as written.

The quick start's `sh` blocks run in one bash session (tests/doc_runner.py) in the world the
tutorial uses (tests/docs_world.py): the template as a local release, Gitea's repositories as
bare repositories on disk behind the `git@gitea.d-ma.be:` URLs the README clones.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from ruamel.yaml import YAML

from generator.kubectl import kustomize_build
from tests.conftest import make_hermetic
from tests.docs_world import World
from tests.helpers import PROJECT

README = PROJECT / "README.md"


def quick_start_section(markdown: str) -> str:
    """The text from `## Quick start` up to the next `## ` heading."""
    found = re.search(r"^## Quick start\n(.*?)(?=^## )", markdown, re.MULTILINE | re.DOTALL)
    assert found, "README.md has no '## Quick start' section"
    return found.group(1)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    for tool in ("bash", "git", "kubectl"):
        assert shutil.which(tool), f"the README test needs {tool} on PATH"
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("reader-home"), mp)
        w = World.create(tmp_path_factory.mktemp("readme-world"))
        page = w.root / "quick-start.md"
        page.write_text(quick_start_section(README.read_text(encoding="utf-8")))
        try:
            w.run_page(page, w.work)
            yield w
        finally:
            w.close()


def test_the_readme_starts_with_exactly_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    first = re.match(r"```sh\n(.*?)```", text, re.DOTALL)
    assert first, "README.md does not start with a sh block"
    commands = [line.split("#")[0].strip() for line in first.group(1).splitlines()]
    assert [c for c in commands if c] == ["make demo", "make test"]


def test_the_quick_start_builds_the_service_into_its_cluster(world: World) -> None:
    built = kustomize_build(world.work / "infra/clusters/koala")
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in built}
    assert ("Deployment", "supervisor") in kinds
    assert ("Namespace", "supervisor") in kinds


def test_the_quick_start_builds_the_main_package(world: World) -> None:
    """The Dockerfile compiles the package that holds `main`, not the repository root."""
    app = world.work / "supervisor"
    answers = YAML(typ="safe").load((app / ".copier-answers.yml").read_text())
    package = app / answers["go_package"]
    assert any("package main" in f.read_text() for f in package.glob("*.go")), package
    assert f" {answers['go_package']}\n" in (app / "Dockerfile").read_text()


def test_the_quick_start_deploys_through_the_nodeport_not_port_22(world: World) -> None:
    """The runner reaches Gitea's SSH on the node's NodePort, as the clone URL cannot say."""
    app = world.work / "supervisor"
    workflow = YAML(typ="safe").load((app / ".gitea/workflows/cd.yml").read_text())
    env = {
        key: value
        for job in workflow["jobs"].values()
        for step in job["steps"]
        for key, value in (step.get("env") or {}).items()
    }
    # The quick start documents the NodePort 30022; the world ran it with a port of its own.
    quick_start = quick_start_section(README.read_text(encoding="utf-8"))
    assert "--data infra_ssh_host=127.0.0.1 --data infra_ssh_port=30022" in quick_start
    assert (env["INFRA_SSH_HOST"], str(env["INFRA_SSH_PORT"])) == ("127.0.0.1", str(world.nodeport))


def test_the_quick_start_encrypts_for_the_key_it_made(world: World) -> None:
    sops_rules = (world.work / "infra/.sops.yaml").read_text()
    public = re.findall(r"age1[0-9a-z]+", sops_rules)
    key_file = world.key_file.read_text()
    assert public and all(f"public key: {key}" in key_file for key in public)
