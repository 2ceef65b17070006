"""age keys and `gitops-onboard keygen`."""

from __future__ import annotations

import stat
from pathlib import Path

import kubernetes_validate
import pyrage
import pytest
from ruamel.yaml import YAML

from generator import age, rules, sops
from generator.cli import main
from generator.errors import InputError
from generator.service_secrets import secret_manifest
from generator.spec import InfraSpec
from tests.helpers import K8S_VERSION, AgeKey


def test_a_generated_pair_belongs_together() -> None:
    pair = age.generate()
    lines = pair.key_file_text.splitlines()
    assert lines[0].startswith("# created: ")
    assert lines[1] == f"# public key: {pair.public}"
    assert str(pyrage.x25519.Identity.from_str(lines[2]).to_public()) == pair.public
    assert age.looks_private(lines[2]) and not age.looks_private(pair.public)
    assert age.public_key_of(pair.key_file_text) == [pair.public]
    assert age.recipient_problem(pair.public) == ""
    assert lines[2] not in repr(pair)


def test_key_files_are_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "keys.txt"
    age.write_key_file(path, "first\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with pytest.raises(InputError, match="exists; refusing to overwrite"):
        age.write_key_file(path, "second\n")
    assert path.read_text() == "first\n"


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("", "must be an age public key"),
        ("age1abc", "'age1' followed by 58 bech32 characters"),
        ("ssh-ed25519 AAAAC3Nza", "'age1' followed by 58 bech32 characters"),
        (None, "must be an age public key"),
    ],
)
def test_bad_recipients_are_named_by_rule(value: object, rule: str) -> None:
    assert rule in age.recipient_problem(value)


def test_an_uppercase_recipient_must_be_written_as_sops_expects() -> None:
    public = age.generate().public
    assert age.recipient_problem(public.upper()) == f"must be written in lowercase as {public}"


def test_a_private_key_given_as_recipient_is_refused_without_echoing_it() -> None:
    private = age.generate().key_file_text.splitlines()[2]
    problem = rules.check([private], "age_recipients")
    assert "PRIVATE key" in problem and private not in problem
    with pytest.raises(InputError) as caught:
        InfraSpec.from_answers({"clusters": ["koala"], "age_recipients": [private]})
    assert private not in str(caught.value)
    assert str(caught.value).startswith("age_recipients: entry 1: is an age PRIVATE key")
    assert "entry 2: is an age PRIVATE key" in rules.check(
        [age.generate().public, private.lower()], "age_recipients"
    )


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ([], "must be a non-empty list of age public keys"),
        ("age1xyz", "must be a non-empty list of age public keys"),
        (None, "must be a non-empty list"),
    ],
)
def test_the_recipient_list_rule(value: object, rule: str) -> None:
    assert rule in rules.check(value, "age_recipients")


def test_a_recipient_listed_twice_is_refused() -> None:
    public = age.generate().public
    assert rules.check([public, public], "age_recipients") == "must not list a key twice"


def test_keygen_writes_where_sops_looks_and_prints_the_flux_secret(
    capsys: pytest.CaptureFixture[str], infra_repo: Path
) -> None:
    assert main(["keygen"]) == 0
    out, err = capsys.readouterr()
    key_file = sops.default_key_file()
    assert str(key_file).startswith(str(Path.home()))  # hermetic: never the real home
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public = age.public_key_of(key_file.read_text())[0]
    assert f"public key: {public}" in err
    private = key_file.read_text().splitlines()[2]
    assert age.looks_private(private) and private not in err
    manifest = YAML(typ="safe", pure=True).load(out)
    kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    assert manifest["metadata"] == {"name": "sops-age", "namespace": "flux-system"}
    assert list(manifest["stringData"]) == ["age.agekey"]
    assert manifest["stringData"]["age.agekey"] == key_file.read_text()
    # sops finds the new key by itself: a file encrypted for it decrypts with no variable set.
    (infra_repo / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n    mac_only_encrypted: true\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: [{public}]\n"
    )
    ciphertext = sops.encrypt(
        secret_manifest("s", {"K": "v"}), root=infra_repo, filename="a.enc.yaml"
    )
    (infra_repo / "a.enc.yaml").write_text(ciphertext)
    assert "K: v" in sops.decrypt_file(infra_repo / "a.enc.yaml", root=infra_repo)


def test_keygen_refuses_to_overwrite_a_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "k.txt"
    out.write_text("precious\n")
    assert main(["keygen", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"gitops-onboard: error: --out: {out} exists; refusing to overwrite it "
        "(choose another --out)\n"
    )
    assert out.read_text() == "precious\n"


def test_keygen_can_write_the_manifest_and_print_only_the_public_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, age_key: AgeKey
) -> None:
    out, manifest = tmp_path / "k.txt", tmp_path / "sops-age.yaml"
    assert main(["keygen", "--out", str(out), "--secret-manifest", str(manifest)]) == 0
    stdout = capsys.readouterr().out
    assert stdout == age.public_key_of(out.read_text())[0] + "\n"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    entry = YAML(typ="safe", pure=True).load(manifest.read_text())["stringData"]["age.agekey"]
    assert entry == out.read_text()
    # A second run refuses before making a key: the manifest path exists.
    other = tmp_path / "k2.txt"
    assert main(["keygen", "--out", str(other), "--secret-manifest", str(manifest)]) == 2
    assert not other.exists()
