"""Key rotation: `gitops-onboard recipients add|remove` over every encrypted file."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import pull_secret as pullsecret
from generator import service_secrets as secret_files
from generator import sops, sopsconfig
from generator.age import generate
from generator.cli import main
from generator.recipients import encrypted_files
from generator.spec import ServiceSpec
from generator.transaction import apply
from tests.helpers import AgeKey, tree_bytes


def _secrets(root: Path) -> list[Path]:
    """Three encrypted files in two folders, as onboarding writes them."""
    for service in ("web", "api"):
        spec = ServiceSpec.from_answers(
            {
                "service": service,
                "registry": "r.io",
                "owner": "o",
                "port": 80,
                "clusters": ["koala"],
                "secret_keys": ["TOKEN"],
            }
        )
        changes, _ = secret_files.plan_service_secrets(
            root, root / "apps" / service, spec, {"TOKEN": f"{service}-token"}
        )
        apply(changes)
    apply(pullsecret.plan_for_service(root, root / "apps/web", "registry-credentials"))
    files = encrypted_files(root)
    assert len(files) == 3
    return files


def _decrypts(
    root: Path, files: list[Path], key_text: str, monkeypatch: pytest.MonkeyPatch
) -> bool:
    """True when `key_text` decrypts every file, False when it decrypts none."""
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    monkeypatch.setenv("SOPS_AGE_KEY", key_text)
    results = []
    for path in files:
        try:
            sops.decrypt_file(path, root=root)
            results.append(True)
        except sops.SopsError as error:
            assert error.reason == "wrong-key"
            results.append(False)
    assert len(set(results)) == 1, f"mixed results {results}"
    return results[0]


def test_add_then_remove_rotates_access_to_every_file(
    infra_repo: Path,
    age_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = _secrets(infra_repo)
    new = generate()
    assert not _decrypts(infra_repo, files, new.key_file_text, monkeypatch)

    monkeypatch.setenv("SOPS_AGE_KEY", age_key.key_file_text)
    assert main(["recipients", "add", new.public, "--infra", str(infra_repo)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{new.public[:16]}...: added to .sops.yaml\n")
    assert out.count("updated ") == 3 and "rotated" not in out
    assert _decrypts(infra_repo, files, new.key_file_text, monkeypatch)
    assert _decrypts(infra_repo, files, age_key.key_file_text, monkeypatch)
    config = (infra_repo / ".sops.yaml").read_text()
    assert sopsconfig.recipients(config) == [age_key.public, new.public]
    answers = (infra_repo / ".copier-answers.yml").read_text()
    assert f"age_recipients:\n- {age_key.public}\n- {new.public}\n" in answers

    before = tree_bytes(infra_repo)
    assert main(["recipients", "add", new.public, "--infra", str(infra_repo)]) == 0
    assert "every *.enc.yaml already has these recipients" in capsys.readouterr().out
    assert tree_bytes(infra_repo) == before

    old_values = {p: p.read_text() for p in files}
    monkeypatch.setenv("SOPS_AGE_KEY", new.key_file_text)
    assert main(["recipients", "remove", age_key.public, "--infra", str(infra_repo)]) == 0
    out = capsys.readouterr().out
    assert out.count(", data key rotated") == 3
    assert not _decrypts(infra_repo, files, age_key.key_file_text, monkeypatch)
    assert _decrypts(infra_repo, files, new.key_file_text, monkeypatch)
    assert sopsconfig.recipients((infra_repo / ".sops.yaml").read_text()) == [new.public]
    for path in files:  # a new data key: every value re-encrypted, the MAC too
        mac = [line for line in path.read_text().splitlines() if "mac: ENC[" in line]
        assert mac and mac[0] not in old_values[path]
    plain = sops.decrypt_file(infra_repo / "apps/web/secrets.enc.yaml", root=infra_repo)
    assert "TOKEN: web-token" in plain


def test_without_a_private_key_nothing_changes(
    infra_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _secrets(infra_repo)
    before = tree_bytes(infra_repo)
    assert main(["recipients", "add", generate().public, "--infra", str(infra_repo)]) == 1
    err = capsys.readouterr().err
    assert "needs the age private key" in err and "SOPS_AGE_KEY_FILE" in err
    # The fixture's service folders hold only a secret, like an interrupted onboarding:
    # each gets a warning line; the error is one line.
    assert len([line for line in err.splitlines() if "error:" in line]) == 1
    assert tree_bytes(infra_repo) == before


def test_the_last_recipient_cannot_be_removed(
    infra_repo: Path, age_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_bytes(infra_repo)
    assert main(["recipients", "remove", age_key.public, "--infra", str(infra_repo)]) == 2
    assert "would have no age recipient left" in capsys.readouterr().err
    assert tree_bytes(infra_repo) == before


def test_a_private_key_is_never_accepted_or_echoed(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private = generate().key_file_text.splitlines()[2]
    assert main(["recipients", "add", private, "--infra", str(infra_repo)]) == 2
    err = capsys.readouterr().err
    assert "PRIVATE key" in err and private not in err
