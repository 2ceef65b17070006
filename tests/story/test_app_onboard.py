"""Onboarding both sides in one go, and bad input that must leave both sides untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from generator.cli import main
from generator.errors import InputError
from generator.giturl import parse
from tests.app_world import REFERENCE, AppWorld
from tests.helpers import PROJECT, build_and_validate, find, git, load_yaml, tree_bytes

# One invalid app answer per file; its first line is `# error: <the expected message>`.
INVALID = sorted((PROJECT / "tests/corpus/app_answers").glob("*.yml"))


def _write_answers(path: Path, answers: dict[str, Any]) -> Path:
    with path.open("w") as handle:
        YAML(typ="safe", pure=True).dump(answers, handle)
    return path


def _empty_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    return path


def test_reference_onboards_both_sides_in_one_go(
    infra_repo: Path, template_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _empty_repo(tmp_path / "supervisor")
    answers = _write_answers(tmp_path / "answers.yml", REFERENCE)

    code = main(
        [
            "onboard",
            "--infra",
            str(infra_repo),
            "--app-repo",
            str(app),
            "--template",
            str(template_repo),
            "--data-file",
            str(answers),
        ]
    )

    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "created Dockerfile" not in out and f"created {app / 'Dockerfile'} (app repo)" in out
    recorded = load_yaml(app / ".copier-answers.yml")
    assert recorded["kind"] == "app" and recorded["state_dir"] == "/app/brain"
    assert recorded["infra_ssh_port"] == 30022 and "clusters" not in recorded
    service_answers = load_yaml(infra_repo / "apps/supervisor/.copier-answers.yml")
    assert service_answers["kind"] == "service" and "language" not in service_answers
    # The image the app pushes is the one the infra side deploys.
    objects = build_and_validate(infra_repo / "clusters/koala")
    image = find(objects, "Deployment", "supervisor")["spec"]["template"]["spec"]["containers"][0]
    workflow = load_yaml(app / ".gitea/workflows/cd.yml")
    assert image["image"] == workflow["jobs"]["deploy"]["env"]["IMAGE"] + ":latest"
    assert 'VOLUME ["/app/brain"]' in (app / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def untouched(app_world: AppWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A committed infra repo (three services onboarded) and an empty app repo to fail on."""
    root = tmp_path_factory.mktemp("bad-input")
    shutil.copytree(app_world.root / "infra", root / "infra", symlinks=True)
    (root / "app").mkdir()
    (root / "app/README.md").write_text("an app\n")
    yield root


@pytest.mark.parametrize("case", INVALID, ids=[p.stem for p in INVALID])
def test_bad_app_input_is_one_line_exit_2_and_nothing_written(
    case: Path,
    untouched: Path,
    template_repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = case.read_text().splitlines()[0].removeprefix("# error: ")
    answers = {**REFERENCE, "service": "newsvc", **load_yaml(case)}
    data = _write_answers(tmp_path / "answers.yml", answers)
    infra, app = untouched / "infra", untouched / "app"
    before = (tree_bytes(infra), tree_bytes(app))

    code = main(
        [
            "onboard",
            "--infra",
            str(infra),
            "--app-repo",
            str(app),
            "--template",
            str(template_repo),
            "--data-file",
            str(data),
        ]
    )

    err = capsys.readouterr().err
    assert code == 2, err
    assert err == f"gitops-onboard: error: {expected}\n"
    assert (tree_bytes(infra), tree_bytes(app)) == before


@pytest.mark.parametrize(
    "override",
    [
        {"infra_ssh_port": "70000"},
        {"language": "rust"},
        {"builder_image": "golang:1.26"},
        {"infra_repo": "https://gitea.d-ma.be/mathias/infra.git"},
    ],
    ids=lambda o: next(iter(o)),
)
def test_plain_copier_copy_refuses_bad_input_and_writes_nothing(
    override: dict[str, str], template_repo: Path, tmp_path: Path
) -> None:
    app = _empty_repo(tmp_path / "app")
    answers = {**{k: v for k, v in REFERENCE.items() if k not in ("clusters",)}, "kind": "app"}
    data = _write_answers(tmp_path / "answers.yml", answers)
    flags = [arg for key, value in override.items() for arg in ("--data", f"{key}={value}")]
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "copier"),
            "copy",
            "--trust",
            "--defaults",
            "--data-file",
            str(data),
            *flags,
            str(template_repo),
            str(app),
        ],
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert next(iter(override)) in last, done.stderr
    assert tree_bytes(app) == {}


def test_existing_github_workflows_get_a_warning(template_repo: Path, tmp_path: Path) -> None:
    app = _empty_repo(tmp_path / "app")
    (app / ".github/workflows").mkdir(parents=True)
    (app / ".github/workflows/ci.yml").write_text("on: push\n")
    git("add", "-A", cwd=app)
    git("commit", "-q", "-m", "ci", cwd=app)
    data = _write_answers(tmp_path / "answers.yml", {**REFERENCE, "kind": "app"})
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "copier"),
            "copy",
            "--trust",
            "--defaults",
            "--data-file",
            str(data),
            str(template_repo),
            str(app),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "has ci.yml: Gitea runs the workflows of .gitea/workflows" in done.stderr
    assert (app / ".gitea/workflows/cd.yml").is_file()


def test_an_already_stamped_app_repo_is_refused(
    app_world: AppWorld,
    untouched: Path,
    template_repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stamped = app_world.ssh_apps["portal"]
    before = tree_bytes(stamped)
    data = _write_answers(tmp_path / "answers.yml", {**REFERENCE, "service": "newsvc"})
    code = main(
        [
            "onboard",
            "--infra",
            str(untouched / "infra"),
            "--app-repo",
            str(stamped),
            "--template",
            str(template_repo),
            "--data-file",
            str(data),
        ]
    )
    assert code == 2
    assert "already has Dockerfile" in capsys.readouterr().err
    assert tree_bytes(stamped) == before


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("git@gitea.d-ma.be:mathias/infra.git", "gitea.d-ma.be", None),
        ("ssh://git@gitea.d-ma.be:30022/mathias/infra.git", "gitea.d-ma.be", 30022),
        ("ssh://[::1]/srv/infra.git", "::1", None),
        ("file:///srv/git/infra.git", "", None),
    ],
)
def test_infra_repo_urls(url: str, host: str, port: int | None) -> None:
    parsed = parse(url)
    assert (parsed.host, parsed.port) == (host, port)


@pytest.mark.parametrize(
    "url",
    [
        "https://gitea.d-ma.be/mathias/infra.git",
        "git://host/x.git",
        "/srv/infra.git",
        "ssh://host:0/x.git",
        "file://relative/x.git",
        "git@host:",
        "git@host:x y.git",
    ],
)
def test_infra_repo_url_rule(url: str) -> None:
    with pytest.raises(ValueError):
        parse(url)


def test_app_spec_names_the_field() -> None:
    from generator.spec import AppSpec

    answers = {
        **REFERENCE,
        "kind": "app",
        "infra_ssh_host": "",
        "language_version": "1.26",
        "builder_image": "golang",
        "builder_tag": "1.26-bookworm",
        "entrypoint": ["/x"],
        "app_branch": "main",
        "runner": "self-hosted",
        "buildkit_host": "unix:///run/buildkit/buildkitd.sock",
        "git_author_name": "CD",
        "infra_branch": "main",
        "dockerignore_extra": [],
    }
    with pytest.raises(InputError) as error:
        AppSpec.from_answers(answers)
    assert error.value.field == "infra_ssh_host"
    spec = AppSpec.from_answers({**answers, "infra_ssh_host": "127.0.0.1"})
    assert spec.image == "gitea.d-ma.be/mathias/supervisor"
    assert (spec.infra_ssh_host, spec.infra_ssh_port) == ("127.0.0.1", 30022)
