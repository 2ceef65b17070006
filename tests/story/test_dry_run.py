"""`--dry-run` on every command that writes: the diff it would apply, and no byte changed."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from generator.age import generate
from generator.cli import build_parser, main
from tests.app_world import REFERENCE
from tests.helpers import WEB_ARGS, AgeKey, git, tree_bytes
from tests.unit.test_flux import bootstrap

# Commands that only read, print or run other tools' updates (update has its own --dry-run);
# preflight writes no file (its test upload to the registry is deleted again).
READ_ONLY = {
    "doctor",
    "completion",
    "secrets list",
    "secrets audit",
    "check",
    "template list",
    "preflight",
}

WEB = [*WEB_ARGS, "-d", "secret_keys=[API_KEY]"]


def writing_commands() -> list[tuple[str, argparse.ArgumentParser]]:
    found = []

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.append((prefix, parser))
        for action in subs:
            for name, sub in action.choices.items():
                walk(f"{prefix} {name}".strip(), sub)

    walk("", build_parser())
    return [(name, p) for name, p in found if name not in READ_ONLY]


@pytest.mark.parametrize(
    ("name", "parser"), writing_commands(), ids=[name for name, _ in writing_commands()]
)
def test_every_writing_command_has_dry_run(name: str, parser: argparse.ArgumentParser) -> None:
    assert any("--dry-run" in a.option_strings for a in parser._actions), name


def dry(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main([*argv, "--dry-run"]) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    assert "dry run: nothing was written" in captured.err
    return captured.out


def test_onboard_shows_the_new_service_and_the_cluster_edit(
    infra_repo: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_bytes(infra_repo)
    diff = dry(
        capsys, "onboard", "--infra", str(infra_repo), "--template", str(template_repo), *WEB
    )
    assert tree_bytes(infra_repo) == before
    assert "+++ b/apps/web/deployment.yaml" in diff
    assert "--- a/clusters/koala/kustomization.yaml" in diff and "+- ../../apps/web" in diff
    assert "+++ b/apps/web/secrets.enc.yaml" in diff and "ENC[" in diff
    assert "gitops-onboard-dry-run." not in diff  # paths name the real repo, not the copy


def test_onboard_both_sides(
    infra_repo: Path, template_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    app = tmp_path / "supervisor"
    app.mkdir()
    git("init", "-q", "-b", "main", cwd=app)
    answers = tmp_path / "answers.yml"
    answers.write_text(yaml.safe_dump(REFERENCE))
    before = tree_bytes(infra_repo), tree_bytes(app)
    diff = dry(
        capsys,
        "onboard",
        "--infra",
        str(infra_repo),
        "--app-repo",
        str(app),
        "--template",
        str(template_repo),
        "--data-file",
        str(answers),
    )
    assert (tree_bytes(infra_repo), tree_bytes(app)) == before
    assert f"# {app.resolve()}" in diff and "+++ b/Dockerfile" in diff
    assert "+++ b/apps/supervisor/deployment.yaml" in diff


def test_init_into_a_new_folder(
    template_repo: Path, tmp_path: Path, age_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new-infra"
    diff = dry(
        capsys,
        "init",
        "--template",
        str(template_repo),
        "--clusters",
        "koala",
        "--age-recipient",
        age_key.public,
        str(target),
    )
    assert not target.exists()
    assert "+++ b/clusters/koala/kustomization.yaml" in diff and "+++ b/.sops.yaml" in diff


def test_offboard_flux_recipients_and_secrets(
    infra_repo: Path,
    template_repo: Path,
    age_private_key: AgeKey,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (
        main(["onboard", "--infra", str(infra_repo), "--template", str(template_repo), *WEB]) == 0
    )
    bootstrap(infra_repo, "koala")
    before = tree_bytes(infra_repo)
    infra = ["--infra", str(infra_repo)]

    diff = dry(capsys, "offboard", "web", *infra)
    assert "+++ /dev/null" in diff and "\n-- ../../apps/web\n" in diff

    diff = dry(capsys, "flux", "enable-decryption", *infra)
    assert "clusters/koala/flux-system/kustomization.yaml" in diff
    assert "+    - op: add" in diff and "+          name: sops-age" in diff

    diff = dry(capsys, "recipients", "add", generate().public, *infra)
    assert "--- a/.sops.yaml" in diff and "apps/web/secrets.enc.yaml" in diff

    canary = "dry-run-canary-4711"
    monkeypatch.setattr("sys.stdin", io.StringIO(canary))
    diff = dry(capsys, "secrets", "set", "web", "API_KEY", *infra)
    assert "apps/web/secrets.enc.yaml" in diff and canary not in diff

    diff = dry(capsys, "secrets", "unset", "web", "API_KEY", *infra)
    assert "apps/web/secrets.enc.yaml" in diff

    monkeypatch.setattr("sys.stdin", io.StringIO(canary))
    diff = dry(
        capsys, "pull-secret", "set", "--registry", "gitea.example.com", "--username", "bot", *infra
    )
    assert "pull-secrets/registry-credentials/secret.enc.yaml" in diff and canary not in diff

    assert tree_bytes(infra_repo) == before


def test_keygen_says_what_it_would_create(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keys.txt"
    text = dry(capsys, "keygen", "--out", str(out))
    assert text == f"would create {out} (mode 0600): a new age private key\n"
    assert not out.exists()
