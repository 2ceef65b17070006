"""generator.sopsmeta: the shape of a sops-encrypted Secret, read from its text alone.

The file under test is one the real sops binary encrypted for a real age key; each test
damages one part of it and expects the problem named, or leaves it whole and expects none.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from generator import sops
from generator.sopsmeta import (
    ENCRYPTED_REGEX,
    age_file_problem,
    enc_length,
    enc_problem,
    metadata_problems,
    secret_values,
    value_problems,
)
from generator.yamltext import new_yaml
from tests.helpers import AgeKey

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: web-secrets
stringData:
  API_KEY: twelve bytes
data:
  TOKEN: c2VjcmV0
"""


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory, age_key: AgeKey) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sopsmeta")
    (root / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: .*\\.enc\\.yaml$\n"
        f"    encrypted_regex: '{ENCRYPTED_REGEX}'\n"
        f"    age: {age_key.public}\n"
    )
    text = sops.encrypt(SECRET, root=root, filename="secret.enc.yaml")
    doc = new_yaml().load(text)
    assert isinstance(doc, dict)
    return doc


@pytest.fixture
def doc(encrypted: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(encrypted)


def test_a_file_sops_wrote_has_no_problem(doc: dict[str, Any], age_key: AgeKey) -> None:
    assert value_problems(doc) == []
    assert metadata_problems(doc["sops"]) == []
    assert doc["sops"]["age"][0]["recipient"] == age_key.public


def test_values_in_file_order_and_their_plaintext_lengths(doc: dict[str, Any]) -> None:
    found = [(section, key) for section, key, _ in secret_values(doc)]
    assert found == [("data", "TOKEN"), ("stringData", "API_KEY")]
    lengths = {key: enc_length(value) for _, key, value in secret_values(doc)}
    assert lengths == {"TOKEN": len("c2VjcmV0"), "API_KEY": len("twelve bytes")}


def test_secret_values_skips_what_is_no_mapping() -> None:
    assert secret_values({"data": ["x"], "stringData": None}) == []


def test_a_plaintext_value_is_named_by_its_key(doc: dict[str, Any]) -> None:
    doc["stringData"]["API_KEY"] = "in the clear"
    assert value_problems(doc) == [
        "stringData.API_KEY is not a well-formed sops value: "
        "it is not ENC[AES256_GCM,data:...,iv:...,tag:...,type:str]"
    ]
    assert enc_length("in the clear") is None


def _field(value: str, name: str, new: str) -> str:
    inner = value.removeprefix("ENC[AES256_GCM,").removesuffix("]")
    parts = [p if not p.startswith(f"{name}:") else f"{name}:{new}" for p in inner.split(",")]
    return "ENC[AES256_GCM," + ",".join(parts) + "]"


@pytest.mark.parametrize(
    ("name", "new", "problem"),
    [
        ("iv", "AAAA", "its IV is 3 bytes, not 32"),
        ("tag", "not base64!", "its tag is not base64"),
        ("data", "@@", "its data is not base64"),
        ("type", "int", "its type is int, not str"),
    ],
)
def test_a_damaged_field_of_a_value(doc: dict[str, Any], name: str, new: str, problem: str) -> None:
    assert enc_problem(_field(doc["stringData"]["API_KEY"], name, new)) == problem


def test_a_value_without_a_field_and_one_that_is_no_string() -> None:
    assert enc_problem("ENC[AES256_GCM,data:AA==,iv:AA==,type:str]") == "it has no tag"
    assert enc_problem(42) == "it is not a string"


def test_the_mac_must_be_as_long_as_a_sha512_in_hex(doc: dict[str, Any]) -> None:
    doc["sops"]["mac"] = doc["stringData"]["API_KEY"]
    assert metadata_problems(doc["sops"]) == [
        "sops.mac is not a well-formed sops value: its data is 12 bytes, not 128"
    ]


def test_missing_and_malformed_metadata(doc: dict[str, Any]) -> None:
    meta = doc["sops"]
    del meta["mac"], meta["version"]
    meta["lastmodified"] = "yesterday"
    meta["encrypted_regex"] = "^data$"
    assert metadata_problems(meta) == [
        "sops.lastmodified is not a timestamp",
        "sops.mac is missing",
        "sops.version is missing",
        f"sops.encrypted_regex is ^data$, not {ENCRYPTED_REGEX} as the repo's .sops.yaml rule says",
    ]
    assert metadata_problems({**doc["sops"], "age": []})[0] == "sops.age lists no recipient"


def test_an_age_entry_with_a_bad_recipient_or_stanza(doc: dict[str, Any]) -> None:
    entry = doc["sops"]["age"][0]
    bad_recipient = {**doc["sops"], "age": [{**entry, "recipient": "age1nope"}, "x"]}
    problems = metadata_problems(bad_recipient)
    assert problems[0].startswith("sops.age entry 1: its recipient ")
    assert problems[1] == "sops.age entry 2 is not a mapping"
    cut = entry["enc"].replace("-----END AGE ENCRYPTED FILE-----", "")
    (problem,) = metadata_problems({**doc["sops"], "age": [{**entry, "enc": cut}]})
    assert "is not an age file holding a sops data key (it is not an armored age file" in problem


def test_an_armored_age_file_is_checked_without_the_key(doc: dict[str, Any]) -> None:
    armored = doc["sops"]["age"][0]["enc"]
    assert age_file_problem(armored) == ""
    assert age_file_problem(None) == "it is not text"
    lines = armored.strip().splitlines()
    body = "".join(lines[1:-1])
    assert age_file_problem("\n".join([lines[0], body[:-8] + "!!!!!!!!", lines[-1]])) == (
        "its armor is not base64"
    )


def test_the_yaml_sops_wrote_round_trips_through_a_file(
    tmp_path: Path, doc: dict[str, Any]
) -> None:
    """A check reads files: the same document, dumped and read back, has no problem."""
    path = tmp_path / "secret.enc.yaml"
    with path.open("w") as handle:
        new_yaml().dump(doc, handle)
    again = new_yaml().load(path.read_text())
    assert value_problems(again) == [] and metadata_problems(again["sops"]) == []
