"""Control characters and trailing newlines in one-line answers.

See tests/adversarial/_input.py for the attacker's tools and what was wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from copier import run_copy

from generator.cli import main
from tests.adversarial._input import (
    APP,
    SERVICE,
    STR_QUESTIONS,
    VARIANTS,
    _onboard,
    empty_repo,
    run_cli,
    variant_of,
    write_yaml,
)
from tests.helpers import AgeKey, tree_bytes

# ═══ 2. Control characters and trailing newlines ═════════════════════════════════════════════
SUFFIXES = {"newline": "\n", "crlf": "\r\n", "nul": "\x00"}


def _cli_for(variant: str, ctx: dict[str, Any], data_file: Path) -> list[str]:
    if variant == "infra":
        return [
            "init",
            "--template",
            str(ctx["template"]),
            "--data-file",
            str(data_file),
            str(ctx["new_infra"]),
        ]
    argv = _onboard(ctx, "--data-file", str(data_file))
    if variant == "app":
        argv += ["--app-repo", str(ctx["app"])]
    return argv


@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
@pytest.mark.parametrize("question", STR_QUESTIONS)
def test_cli_refuses_a_control_character_in_every_one_line_answer(
    question: str,
    suffix: str,
    resolved: dict[str, dict[str, Any]],
    infra_repo: Path,
    template_repo: Path,
    tmp_path: Path,
    age_key: AgeKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`"web\\n"` once made `apps/web\\n/`; now every str question refuses it, nothing written."""
    variant = variant_of(question, resolved)
    answers = {
        k: v for k, v in resolved[variant].items() if k in VARIANTS[variant] or k == question
    }
    if variant == "infra":
        answers["age_recipients"] = [age_key.public]
    answers[question] = str(resolved[variant][question]) + SUFFIXES[suffix]
    app = empty_repo(tmp_path / "app")
    new_infra = tmp_path / "new-infra"
    new_infra.mkdir()
    ctx = {"infra": infra_repo, "template": template_repo, "app": app, "new_infra": new_infra}
    before = [tree_bytes(infra_repo), tree_bytes(app), tree_bytes(new_infra)]
    code = main(_cli_for(variant, ctx, write_yaml(tmp_path / "answers.yml", answers)))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"gitops-onboard: error: {question}: "), err
    assert [tree_bytes(infra_repo), tree_bytes(app), tree_bytes(new_infra)] == before


@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
@pytest.mark.parametrize("question", STR_QUESTIONS)
def test_plain_copier_refuses_a_control_character_in_every_one_line_answer(
    question: str,
    suffix: str,
    resolved: dict[str, dict[str, Any]],
    infra_repo: Path,
    template_repo: Path,
    tmp_path: Path,
    age_key: AgeKey,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The same answers through `copier copy --trust`: a validator (or the choices) refuse."""
    variant = variant_of(question, resolved)
    data = {**VARIANTS[variant], question: str(resolved[variant][question]) + SUFFIXES[suffix]}
    if variant == "infra":
        data["age_recipients"] = [age_key.public]
    destination = infra_repo / "apps/web" if variant.startswith("service") else tmp_path / "dst"
    before = tree_bytes(infra_repo)
    with pytest.raises(Exception) as raised:
        run_copy(str(template_repo), destination, data=data, defaults=True, unsafe=True, quiet=True)
    message = str(raised.value)
    assert question in message, message
    assert "Validation error" in message or "Invalid choice" in message, message
    assert tree_bytes(infra_repo) == before
    assert not destination.exists() or not any(destination.iterdir())


def test_an_ssh_host_with_a_newline_renders_no_workflow(
    infra_repo: Path, template_repo: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """`infra_ssh_host: "127.0.0.1\\n"` rendered a cd.yml that is not YAML; both paths refuse."""
    app = empty_repo(tmp_path / "app")
    answers = {**SERVICE, **APP, "infra_ssh_host": "127.0.0.1\n", "infra_ssh_port": 30022}
    code, output = run_cli(
        _onboard(
            {"infra": infra_repo, "template": template_repo},
            "--app-repo",
            str(app),
            "--data-file",
            str(write_yaml(tmp_path / "answers.yml", answers)),
        ),
        capfd,
    )
    assert code == 2 and output.startswith("gitops-onboard: error: infra_ssh_host: "), output
    assert not (app / ".gitea").exists() and not (infra_repo / "apps/web").exists()
    with pytest.raises(ValueError, match="infra_ssh_host"):
        run_copy(
            str(template_repo),
            app,
            data={**answers, "kind": "app"},
            defaults=True,
            unsafe=True,
            quiet=True,
        )
    assert not (app / ".gitea").exists()
