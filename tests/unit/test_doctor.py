"""`gitops-onboard doctor` and `--version`: what a machine and an infra repo need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator import sops
from generator.cli import main
from tests.helpers import WEB_ARGS, AgeKey
from tests.unit.test_flux import bootstrap


def doctor(
    infra: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, dict[str, str]]]:
    code = main(["doctor", "--infra", str(infra), "--format", "json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    return code, checks


def onboard_with_secret(infra: Path, template: Path) -> None:
    argv = ["onboard", "--infra", str(infra), "--template", str(template), *WEB_ARGS]
    assert main([*argv, "-d", "secret_keys=[API_KEY]"]) == 0


def test_version_names_every_tool(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    lines = dict(line.split(" ", 1) for line in capsys.readouterr().out.splitlines())
    assert list(lines) == ["gitops-onboard", "copier", "sops", "kustomize", "git"]
    assert lines["sops"] == sops.version()
    assert "not found" not in lines.values()


def test_doctor_outside_an_infra_repo_checks_the_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = doctor(tmp_path, capsys)
    assert code == 0
    assert {checks[t]["status"] for t in ("sops", "kustomize", "git", "copier")} == {"ok"}
    assert checks["infra repo"]["status"] == "warn"


def test_doctor_in_an_infra_repo_without_key_or_flux(
    infra_repo: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    onboard_with_secret(infra_repo, template_repo)
    capsys.readouterr()
    code, checks = doctor(infra_repo, capsys)
    assert code == 0  # warnings only: onboarding works with the public key alone
    assert checks["age key"]["status"] == "warn"
    assert "SOPS_AGE_KEY_FILE" in checks["age key"]["fix"]
    assert checks["flux decryption"]["status"] == "warn"


def test_doctor_fails_on_a_wrong_key_and_on_missing_decryption(
    infra_repo: Path,
    template_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    onboard_with_secret(infra_repo, template_repo)
    bootstrap(infra_repo, "koala")
    from generator.age import generate

    stranger = tmp_path / "stranger.txt"
    stranger.write_text(generate().key_file_text)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(stranger))
    capsys.readouterr()
    code, checks = doctor(infra_repo, capsys)
    assert code == 1
    assert checks["age key"]["status"] == "fail"
    assert checks["flux decryption"] == {
        "name": "flux decryption",
        "status": "fail",
        "detail": "not enabled for koala",
        "fix": "gitops-onboard flux enable-decryption",
    }


def test_doctor_is_green_with_the_right_key_and_flux_decryption(
    infra_repo: Path,
    template_repo: Path,
    age_private_key: AgeKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    onboard_with_secret(infra_repo, template_repo)
    bootstrap(infra_repo, "koala")
    assert main(["flux", "enable-decryption", "--infra", str(infra_repo)]) == 0
    capsys.readouterr()
    code, checks = doctor(infra_repo, capsys)
    assert code == 0, checks
    assert checks["age key"] == {
        "name": "age key",
        "status": "ok",
        "detail": "decrypts apps/web/secrets.enc.yaml",
        "fix": "",
    }
    # koala is reconciled with decryption; iguana has no Flux yet, which is a warning.
    assert checks["flux decryption"]["status"] == "warn"
    assert checks["flux decryption"]["detail"] == "no Flux Kustomization reconciles iguana yet"


def _doctor_in_a_terminal(tmp_path: Path, **env: str) -> str:
    import os
    import sys

    import pexpect

    child = pexpect.spawn(
        str(Path(sys.executable).parent / "gitops-onboard"),
        ["doctor", "--infra", str(tmp_path)],
        encoding="utf-8",
        timeout=60,
        env={**os.environ, **env},
    )
    output = child.read()
    child.close()
    return str(output)


def test_colour_only_on_a_terminal_and_never_with_no_color(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert "\x1b[32mok  \x1b[0m" in _doctor_in_a_terminal(tmp_path)
    assert "\x1b[" not in _doctor_in_a_terminal(tmp_path, NO_COLOR="1")
    main(["doctor", "--infra", str(tmp_path)])  # captured: not a terminal
    assert "\x1b[" not in capsys.readouterr().out
