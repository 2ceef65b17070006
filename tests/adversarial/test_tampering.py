"""Tampering and damage the check must see: corrupted secrets, placeholders, Flux decryption.

Every file here is a real sops file encrypted for a real age key, damaged the way a bad merge,
a careless hand edit or an attacker would damage it: a byte flipped in a value, its IV, its
tag or the MAC, two values swapped, an age stanza broken, or a whole `ENC[...]` wrapper and
`sops:` block made by hand. `gitops-onboard check` and `secrets audit` must fail on each, name
the file and the key, and stay green on a file nobody touched.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyrage
import pytest

from generator import audit, sops
from generator import pull_secret as pullsecret
from generator import service_secrets as secrets
from generator.age import generate
from generator.check import Finding, check
from generator.cli import main
from generator.kubectl import kustomize_build
from generator.kustomization import add_resource
from generator.onboard import onboard_service
from tests.conftest import make_hermetic
from tests.helpers import AgeKey, commit_all, load_yaml, tree_bytes

SERVICE = {
    "service": "web",
    "registry": "gitea.example.com",
    "owner": "team",
    "clusters": ["koala"],
    "secret_keys": ["API_KEY", "DB_PASSWORD"],
}
VALUES = {"API_KEY": "k-3141592653", "DB_PASSWORD": "correct horse battery staple"}
SECRET = "apps/web/secrets.enc.yaml"
PULL = "pull-secrets/registry-credentials/secret.enc.yaml"


# ── the world: one infra repo with real encrypted values ─────────────────────


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, pristine_infra: Path) -> Path:
    """web with both values set and a real pull secret; nothing left as a placeholder."""
    root = tmp_path_factory.mktemp("sealed") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("sealed-home"), mp)
        onboard_service(root, SERVICE, secret_values=VALUES)
        pullsecret.set_credentials(root, "registry-credentials", "gitea.example.com", "bot", "t0k")
    commit_all(root, "web, its values and the pull secret")
    return root


@pytest.fixture
def infra(tmp_path: Path, sealed: Path) -> Path:
    root = tmp_path / "infra"
    shutil.copytree(sealed, root, symlinks=True)
    return root


def found(root: Path) -> list[Finding]:
    return list(check(root, offline=True).findings)


def secret_findings(root: Path, path: str) -> list[str]:
    """What `secrets audit` (whose findings `check` reports as `secret`) says about `path`."""
    return [f.problem for f in audit.audit(root) if f.file == path]


def exits(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, int]:
    """(exit of `check --offline`, exit of `secrets audit`)."""
    codes = main(["check", "--offline", str(root)]), main(["secrets", "audit", str(root)])
    capsys.readouterr()
    return codes


def edit(path: Path, change: Callable[[str], str]) -> None:
    before = path.read_text()
    after = change(before)
    assert after != before, "the tampering changed nothing"
    path.write_text(after)


def flip(b64: str, at: int = 0) -> str:
    """The same base64 field with one byte of what it encodes flipped: still well-formed."""
    raw = bytearray(base64.b64decode(b64))
    raw[at] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def enc_part(text: str, key: str, part: str) -> str:
    match = re.search(rf"^\s+{re.escape(key)}: ENC\[.*?{part}:([^,\]]*)", text, re.M)
    assert match, f"no {part} for {key}"
    return match[1]


def flip_part(key: str, part: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        old = enc_part(text, key, part)
        return text.replace(f"{part}:{old}", f"{part}:{flip(old)}", 1)

    return change


def value_of(text: str, key: str) -> str:
    match = re.search(rf"^\s+{re.escape(key)}: (ENC\[.*\])$", text, re.M)
    assert match
    return match[1]


# ── 10. corrupted secrets ──────────────────────────────────────────────────


def test_an_untouched_repo_passes_with_the_key_without_it_and_with_a_strangers(
    infra: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard against false alarms: nothing is reported for real, intact secrets."""
    assert found(infra) == []
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    assert found(infra) == []
    stranger = infra.parent / "stranger.txt"
    stranger.write_text(generate().key_file_text)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(stranger))
    assert found(infra) == []


@pytest.mark.parametrize("part", ["data", "iv", "tag"])
def test_one_flipped_byte_in_a_value_is_named_with_its_key(
    infra: Path, part: str, age_private_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """A flipped byte in an `ENC[...]` value passed `check` and `secrets audit` even with the
    private key at hand; the Secret then failed to decrypt in Flux."""
    edit(infra / SECRET, flip_part("API_KEY", part))
    messages = secret_findings(infra, SECRET)
    assert messages == [
        "stringData.API_KEY does not decrypt with the key at hand: its ciphertext, IV or tag "
        "changed after encryption (a bad merge or a hand edit)"
    ]
    assert exits(infra, capsys) == (1, 1)


def test_a_flipped_byte_in_the_mac_is_named(
    infra: Path, age_private_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(infra / SECRET, lambda text: text.replace(mac := _mac_data(text), flip(mac), 1))
    assert secret_findings(infra, SECRET) == [
        "sops.mac does not decrypt with the key at hand: the MAC changed after encryption"
    ]
    assert exits(infra, capsys) == (1, 1)


def _mac_data(text: str) -> str:
    match = re.search(r"^\s+mac: ENC\[AES256_GCM,data:([^,]*)", text, re.M)
    assert match
    return match[1]


def test_two_swapped_values_are_both_named(
    infra: Path, age_private_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each value is bound to its key: swapping two keeps every field well-formed, so only a
    decryption sees it."""

    def swap(text: str) -> str:
        a, b = value_of(text, "API_KEY"), value_of(text, "DB_PASSWORD")
        return text.replace(a, "\0").replace(b, a).replace("\0", b)

    edit(infra / SECRET, swap)
    assert [m.split(" does not")[0] for m in secret_findings(infra, SECRET)] == [
        "stringData.API_KEY",
        "stringData.DB_PASSWORD",
    ]
    assert exits(infra, capsys) == (1, 1)


def test_an_older_value_put_back_fails_the_mac(
    infra: Path, age_private_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value from the file's own history decrypts, but the MAC no longer covers it."""
    path = infra / SECRET
    old = value_of(path.read_text(), "API_KEY")
    secrets.set_secret(infra, "web", "API_KEY", "k-2718281828")
    edit(path, lambda text: text.replace(value_of(text, "API_KEY"), old))
    assert secret_findings(infra, SECRET) == [
        "sops.mac does not match the values: a value was replaced (e.g. by an older one), "
        "removed or reordered after encryption"
    ]
    assert exits(infra, capsys) == (1, 1)


def _armored(text: str) -> tuple[str, bytes]:
    match = re.search(
        r"-----BEGIN AGE ENCRYPTED FILE-----\n(.*?)\n\s*-----END AGE ENCRYPTED FILE-----",
        text,
        re.S,
    )
    assert match
    return match[1], base64.b64decode("".join(match[1].split()))


def _rearmor(text: str, raw: bytes) -> str:
    body, _ = _armored(text)
    indent = re.search(r"\n(\s*)-----END AGE", text)
    assert indent
    encoded = base64.b64encode(raw).decode()
    rows = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return text.replace(body, "\n".join(indent[1] + row for row in rows), 1)


def test_a_broken_age_stanza_is_seen_without_the_key(
    infra: Path, age_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stanza that no age implementation can parse makes the Secret undecryptable for
    everyone, Flux included; its structure alone tells."""

    def truncate(text: str) -> str:
        _, raw = _armored(text)
        return _rearmor(text, raw[:-20])

    edit(infra / SECRET, truncate)
    assert secret_findings(infra, SECRET) == [
        f"sops.age: the stanza for recipient {age_key.public} is not an age file holding a "
        "sops data key (its payload is 44 bytes, not 64)"
    ]
    assert exits(infra, capsys) == (1, 1)


def test_a_flipped_byte_in_the_age_stanza_is_seen_with_the_key(
    infra: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte flipped inside the wrapped file key keeps the stanza well-formed; sops then says
    the key does not match, which looked like a wrong key. The key at hand is one of the
    file's recipients, so the stanza is damaged."""

    def flip_wrapped_key(text: str) -> str:
        _, raw = _armored(text)
        lines = raw.split(b"\n")  # [version, "-> X25519 share", wrapped file key, "--- mac", ...]
        wrapped = bytearray(base64.b64decode(lines[2] + b"="))
        wrapped[0] ^= 0x01
        lines[2] = base64.b64encode(bytes(wrapped)).rstrip(b"=")
        return _rearmor(text, b"\n".join(lines))

    edit(infra / SECRET, flip_wrapped_key)
    assert found(infra) == []  # well-formed: without the key nobody can tell
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    assert secret_findings(infra, SECRET) == [
        f"sops.age: the stanza for recipient {age_key.public} does not open with the key at "
        "hand, which is that recipient's: the stanza changed after encryption"
    ]


def _fake_enc(plaintext: str, iv: int = 32, tag: int = 16) -> str:
    data = base64.b64encode(plaintext.encode()).decode()
    iv_b64 = base64.b64encode(os.urandom(iv)).decode()
    tag_b64 = base64.b64encode(os.urandom(tag)).decode()
    return f"ENC[AES256_GCM,data:{data},iv:{iv_b64},tag:{tag_b64},type:str]"


def _forged(recipient: str, stanza: str, iv: int = 32) -> str:
    """A Secret made by hand to look encrypted: base64 plaintext in `ENC[...]` wrappers."""
    mac = _fake_enc("0" * 128, iv=iv)
    enc = "\n".join(f"            {line}" for line in stanza.splitlines())
    return (
        "apiVersion: v1\nkind: Secret\nmetadata:\n    name: web-secrets\n    namespace: web\n"
        "type: Opaque\nstringData:\n"
        f"    API_KEY: {_fake_enc('plain-api-key', iv=iv)}\n"
        f"    DB_PASSWORD: {_fake_enc('plain-password', iv=iv)}\n"
        "sops:\n    age:\n"
        f"        - recipient: {recipient}\n          enc: |\n{enc}\n"
        '    lastmodified: "2025-01-01T00:00:00Z"\n'
        f"    mac: {mac}\n"
        "    encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n"
        "    version: 3.11.0\n"
    )


def test_a_hand_made_sops_block_is_caught_by_its_structure(
    infra: Path, age_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ENC[...]` around base64 plaintext and a made-up `sops:` block passed the audit."""
    stanza = (
        "-----BEGIN AGE ENCRYPTED FILE-----\n"
        + base64.b64encode(b"not an age header").decode()
        + "\n-----END AGE ENCRYPTED FILE-----"
    )
    (infra / SECRET).write_text(_forged(age_key.public, stanza, iv=12))
    messages = secret_findings(infra, SECRET)
    assert messages == [
        "stringData.API_KEY is not a well-formed sops value: its IV is 12 bytes, not 32",
        "stringData.DB_PASSWORD is not a well-formed sops value: its IV is 12 bytes, not 32",
        f"sops.age: the stanza for recipient {age_key.public} is not an age file holding a "
        "sops data key (no age-encryption.org/v1 header)",
        "sops.mac is not a well-formed sops value: its IV is 12 bytes, not 32",
    ]
    assert exits(infra, capsys) == (1, 1)


def test_a_careful_forgery_is_caught_by_decrypting(
    infra: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only the public key anyone can make a real age stanza and fields of the right
    lengths; the values still are not sops ciphertext, which decrypting proves."""
    recipient = pyrage.x25519.Recipient.from_str(age_key.public)
    stanza = pyrage.encrypt(os.urandom(32), [recipient], armored=True).decode().strip()
    (infra / SECRET).write_text(_forged(age_key.public, stanza))
    assert secret_findings(infra, SECRET) == []  # structurally perfect
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    assert [m.split(" does not")[0] for m in secret_findings(infra, SECRET)] == [
        "stringData.API_KEY",
        "stringData.DB_PASSWORD",
        "sops.mac",
    ]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (("    lastmodified:", None), "sops.lastmodified is missing"),
        (("    mac:", None), "sops.mac is missing"),
        (("    version:", None), "sops.version is missing"),
        (
            ("    encrypted_regex:", "    encrypted_regex: ^(data)$\n"),
            "sops.encrypted_regex is ^(data)$, not ^(data|stringData)$ as the repo's "
            ".sops.yaml rule says",
        ),
        (
            ("    lastmodified:", '    lastmodified: "yesterday"\n'),
            "sops.lastmodified is not a timestamp",
        ),
    ],
    ids=["no-lastmodified", "no-mac", "no-version", "other-regex", "bad-lastmodified"],
)
def test_incomplete_sops_metadata_is_named(
    infra: Path, damage: tuple[str, str | None], message: str
) -> None:
    start, replacement = damage

    def change(text: str) -> str:
        lines = text.splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if line.startswith(start))
        lines[at : at + 1] = [replacement] if replacement else []
        return "".join(lines)

    edit(infra / SECRET, change)
    assert message in secret_findings(infra, SECRET)


def test_a_secret_without_age_recipients_is_named(infra: Path) -> None:
    def drop_age(text: str) -> str:
        return re.sub(r"    age:\n(?:        .*\n|          .*\n)+", "", text)

    edit(infra / SECRET, drop_age)
    assert secret_findings(infra, SECRET) == ["sops.age lists no recipient"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ENC[AES256_GCM,data:aGk=,iv:{iv},type:str]", "it has no tag"),
        ("ENC[AES256_GCM,data:aGk=,iv:{iv},tag:AAAA,type:str]", "its tag is 3 bytes, not 16"),
        ("ENC[AES256_GCM,data:a*k=,iv:{iv},tag:{tag},type:str]", "its data is not base64"),
        ("ENC[AES256_GCM,data:aGk=,iv:{iv},tag:{tag},type:int]", "its type is int, not str"),
    ],
    ids=["no-tag", "short-tag", "not-base64", "not-a-string"],
)
def test_a_malformed_value_names_its_key(infra: Path, value: str, problem: str) -> None:
    iv = base64.b64encode(bytes(32)).decode()
    tag = base64.b64encode(bytes(16)).decode()
    shown = value.format(iv=iv, tag=tag)
    edit(infra / SECRET, lambda text: text.replace(value_of(text, "DB_PASSWORD"), shown))
    assert secret_findings(infra, SECRET) == [
        f"stringData.DB_PASSWORD is not a well-formed sops value: {problem}"
    ]


def test_the_pull_secret_is_verified_too(
    infra: Path, age_private_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(infra / PULL, flip_part(".dockerconfigjson", "data"))
    assert [m.split(" does not")[0] for m in secret_findings(infra, PULL)] == [
        "stringData..dockerconfigjson"
    ]
    assert exits(infra, capsys) == (1, 1)


def test_audit_json_names_file_key_and_fix(
    infra: Path, age_private_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(infra / SECRET, flip_part("DB_PASSWORD", "iv"))
    assert main(["secrets", "audit", str(infra), "--format", "json"]) == 1
    [row] = json.loads(capsys.readouterr().out)
    assert row["file"] == SECRET
    assert row["problem"].startswith("stringData.DB_PASSWORD does not decrypt")
    assert row["fix"].startswith(f"restore {SECRET} from git (`git log -p -- {SECRET}`")


# ── 11. placeholders and empty pull secrets ──────────────────────────────────


def test_placeholders_fail_the_check_without_the_key_until_each_is_set(
    infra: Path,
    age_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Onboarding without values writes placeholders; the check passed them to Flux."""
    worker = {**SERVICE, "service": "worker", "secret_keys": ["API_TOKEN", "DB_URL"]}
    onboard_service(infra, worker)
    placeholders = [f for f in found(infra) if f.path == "apps/worker/secrets.enc.yaml"]
    assert [(f.check, f.message, f.fix) for f in placeholders] == [
        (
            "secret",
            f"stringData.{key} still holds the placeholder onboarding wrote",
            f"gitops-onboard secrets set worker {key}",
        )
        for key in ("API_TOKEN", "DB_URL")
    ]
    assert exits(infra, capsys) == (1, 1)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    assert [f.message for f in found(infra) if f.path.startswith("apps/worker")] == [
        f"stringData.{key} still holds the placeholder onboarding wrote"
        for key in ("API_TOKEN", "DB_URL")
    ]
    secrets.set_secret(infra, "worker", "API_TOKEN", "t-1")
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    assert [f.message for f in found(infra) if f.path.startswith("apps/worker")] == [
        "stringData.DB_URL still holds the placeholder onboarding wrote"
    ]
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    secrets.set_secret(infra, "worker", "DB_URL", "postgres://db/worker")
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    assert [f for f in found(infra) if f.path.startswith("apps/worker")] == []


def test_an_empty_pull_secret_fails_the_check_until_it_is_set(
    infra: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pull secret of {"auths":{}} deployed and every image pull failed."""
    onboard_service(infra, {**SERVICE, "service": "api", "image_pull_secret": "gitea-pull"})
    where = "pull-secrets/gitea-pull/secret.enc.yaml"
    [finding] = [f for f in found(infra) if f.path == where]
    assert finding.message == (
        'stringData..dockerconfigjson holds no registry credentials ({"auths":{}}, the '
        "placeholder onboarding wrote)"
    )
    assert finding.fix == (
        "gitops-onboard pull-secret set --name gitea-pull --registry HOST --username USER"
    )
    assert exits(infra, capsys) == (1, 1)
    pullsecret.set_credentials(infra, "gitea-pull", "gitea.example.com", "bot", "t0k")
    assert [f for f in found(infra) if f.path == where] == []


def test_a_real_value_as_long_as_a_placeholder_is_never_taken_for_one(
    infra: Path, age_private_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    same_length = "x" * len(secrets.placeholder("web", "API_KEY"))
    secrets.set_secret(infra, "web", "API_KEY", same_length)
    assert found(infra) == []
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    assert found(infra) == []


def test_setting_a_value_clears_its_marker_and_nothing_else(
    infra: Path, age_private_key: AgeKey
) -> None:
    worker = {**SERVICE, "service": "worker", "secret_keys": ["A", "B"]}
    onboard_service(infra, worker, secret_values={"B": "b"})
    path = infra / "apps/worker/secrets.enc.yaml"
    assert "gitops-onboard/placeholders: A\n" in path.read_text()
    secrets.set_secret(infra, "worker", "A", "a")
    text = path.read_text()
    assert 'gitops-onboard/placeholders: ""\n' in text or "placeholders: ''\n" in text
    before = tree_bytes(infra)
    assert secrets.set_secret(infra, "worker", "A", "a") == "unchanged"
    assert tree_bytes(infra) == before
    assert sops.decrypt_file(path, root=infra)  # the edit kept the file decryptable


def test_unsetting_a_key_left_as_a_placeholder_drops_it_from_the_marker(
    infra: Path, age_private_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = {**SERVICE, "service": "worker", "secret_keys": ["A", "B"]}
    onboard_service(infra, worker, secret_values={"B": "b"})
    path = infra / "apps/worker/secrets.enc.yaml"
    assert secrets.marked_keys(load_yaml(path)) == ["A"]
    assert secrets.unset_secret(infra, "worker", "A")
    assert secrets.marked_keys(load_yaml(path)) == []
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    assert [f for f in found(infra) if f.path.startswith("apps/worker")] == [
        Finding(
            "secret",
            "apps/worker/secrets.enc.yaml",
            "lacks the declared secret key A",
            "set each value: gitops-onboard secrets set worker KEY",
        )
    ]


def _previous_release_secret(root: Path, service: str, values: dict[str, str]) -> Path:
    """A secrets.enc.yaml exactly as the release before the marker wrote it."""
    lines = [
        "apiVersion: v1",
        "kind: Secret",
        "metadata:",
        f'  name: "{service}-secrets"',
        f'  namespace: "{service}"',
        "  labels:",
        f'    app.kubernetes.io/name: "{service}"',
        '    app.kubernetes.io/managed-by: "gitops-onboard"',
        "  annotations:",
        '    kustomize.toolkit.fluxcd.io/substitute: "disabled"',
        'type: "Opaque"',
        "stringData:",
        *(f"  {key}: {json.dumps(value)}" for key, value in sorted(values.items())),
    ]
    rel = f"apps/{service}/secrets.enc.yaml"
    path = root / rel
    path.write_text(sops.encrypt("\n".join(lines) + "\n", root=root, filename=rel))
    return path


def test_placeholders_of_the_previous_release_are_found(
    infra: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files written before the marker: the key tells for sure; without it the check says it
    cannot tell a value of the placeholder's length, and how to find out."""
    _previous_release_secret(
        infra, "web", {"API_KEY": secrets.placeholder("web", "API_KEY"), "DB_PASSWORD": "pw"}
    )
    [finding] = [f for f in found(infra) if f.path == SECRET]
    assert finding.message == (
        "stringData.API_KEY may still hold the placeholder onboarding wrote (it has the "
        "placeholder's length); without the age private key the check cannot tell"
    )
    assert finding.fix == (
        "run the check with the key (SOPS_AGE_KEY_FILE=/path/to/keys.txt), or "
        "`gitops-onboard secrets list web` with it, which marks placeholders; "
        "`gitops-onboard secrets set web API_KEY` sets it"
    )
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    assert secret_findings(infra, SECRET) == [
        "stringData.API_KEY still holds the placeholder onboarding wrote"
    ]
    secrets.set_secret(infra, "web", "API_KEY", "real")
    monkeypatch.delenv("SOPS_AGE_KEY_FILE")
    assert secret_findings(infra, SECRET) == []


def test_an_empty_pull_secret_of_the_previous_release_is_found_without_the_key(
    infra: Path,
) -> None:
    """`{"auths":{}}` is 12 bytes; no pull secret that names a registry is that short."""
    manifest = (
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: "registry-credentials"\n'
        '  labels:\n    app.kubernetes.io/managed-by: "gitops-onboard"\n  annotations:\n'
        '    kustomize.toolkit.fluxcd.io/substitute: "disabled"\n'
        'type: "kubernetes.io/dockerconfigjson"\nstringData:\n'
        '  .dockerconfigjson: "{\\"auths\\":{}}"\n'
    )
    (infra / PULL).write_text(sops.encrypt(manifest, root=infra, filename=PULL))
    assert secret_findings(infra, PULL) == [
        'stringData..dockerconfigjson holds no registry credentials ({"auths":{}}, the '
        "placeholder onboarding wrote)"
    ]


# ── 13. Flux decryption as a bootstrap customisation ─────────────────────────

GOTK_SYNC = """\
# This manifest was generated by flux. DO NOT EDIT.
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: main
  secretRef:
    name: flux-system
  url: ssh://git@gitea.example.com/team/infra
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m0s
  path: ./clusters/koala
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
"""
# What the release before this one spliced into gotk-sync.yaml.
EDITED_GOTK_SYNC = GOTK_SYNC.replace(
    "spec:\n  interval: 10m0s",
    "spec:\n  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n"
    "  interval: 10m0s",
)
FLUX_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- gotk-components.yaml
- gotk-sync.yaml
"""
# A stand-in for the controllers' manifests (thousands of lines in a real bootstrap).
GOTK_COMPONENTS = """\
# This manifest was generated by flux. DO NOT EDIT.
---
apiVersion: v1
kind: Namespace
metadata:
  name: flux-system
"""
DECRYPTION = {"provider": "sops", "secretRef": {"name": "sops-age"}}


def bootstrap(root: Path, cluster: str = "koala", sync: str = GOTK_SYNC) -> Path:
    """Write clusters/<cluster>/flux-system/ as `flux bootstrap --path=clusters/<cluster>` does."""
    folder = root / "clusters" / cluster / "flux-system"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gotk-components.yaml").write_text(GOTK_COMPONENTS)
    (folder / "gotk-sync.yaml").write_text(sync.replace("clusters/koala", f"clusters/{cluster}"))
    if not (folder / "kustomization.yaml").exists():
        (folder / "kustomization.yaml").write_text(FLUX_KUSTOMIZATION)
    listing = root / "clusters" / cluster / "kustomization.yaml"
    listing.write_text(add_resource(listing.read_text(), "flux-system"))
    return folder


def built_decryption(folder: Path) -> Any:
    [flux_kustomization] = [
        o
        for o in kustomize_build(folder)
        if o["kind"] == "Kustomization" and o["apiVersion"].startswith("kustomize.toolkit")
    ]
    return flux_kustomization["spec"].get("decryption")


def test_enable_decryption_patches_instead_of_editing_the_generated_file(
    infra: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """gotk-sync.yaml says DO NOT EDIT and `flux bootstrap` rewrites it; the decryption goes
    into a patch of flux-system/kustomization.yaml, as Flux documents customising
    bootstrap, so it survives a re-bootstrap."""
    folder = bootstrap(infra)
    assert main(["flux", "enable-decryption", "--infra", str(infra), "--cluster", "koala"]) == 0
    assert "koala: added a decryption patch for Kustomization flux-system in " in (
        capsys.readouterr().out
    )
    assert (folder / "gotk-sync.yaml").read_text() == GOTK_SYNC
    assert built_decryption(folder) == DECRYPTION
    before = tree_bytes(infra)
    assert main(["flux", "enable-decryption", "--infra", str(infra), "--cluster", "koala"]) == 0
    assert "already decrypts" in capsys.readouterr().out
    assert tree_bytes(infra) == before
    bootstrap(infra)  # a re-bootstrap rewrites the generated files, never kustomization.yaml
    assert built_decryption(folder) == DECRYPTION


def test_a_gotk_sync_edited_by_the_previous_release_is_moved_into_the_patch(
    infra: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = bootstrap(infra, sync=EDITED_GOTK_SYNC)
    assert main(["flux", "enable-decryption", "--infra", str(infra)]) == 0
    out = capsys.readouterr().out
    assert "koala: moved the decryption of Kustomization flux-system out of " in out
    assert (folder / "gotk-sync.yaml").read_text() == GOTK_SYNC
    assert built_decryption(folder) == DECRYPTION


def test_doctor_warns_about_decryption_in_the_generated_file(
    infra: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap(infra, sync=EDITED_GOTK_SYNC)
    main(["doctor", "--infra", str(infra), "--format", "json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert checks["flux decryption"]["status"] == "fail"
    assert "gotk-sync.yaml" in checks["flux decryption"]["detail"]
    assert "flux bootstrap" in checks["flux decryption"]["detail"]
    assert checks["flux decryption"]["fix"] == "gitops-onboard flux enable-decryption"


def test_check_reports_a_cluster_whose_flux_cannot_decrypt_its_secrets(
    infra: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A re-bootstrap wiped the decryption from gotk-sync.yaml: Flux then applied the
    encrypted Secrets as they are and only `doctor` noticed."""
    bootstrap(infra)
    findings = [f for f in found(infra) if f.path == "clusters/koala"]
    assert [(f.check, f.message, f.fix) for f in findings] == [
        (
            "flux",
            "the Flux Kustomization flux-system reconciles this cluster, which holds encrypted "
            "Secrets, without spec.decryption: Flux would apply them still encrypted",
            "gitops-onboard flux enable-decryption --cluster koala",
        )
    ]
    assert exits(infra, capsys)[0] == 1
    assert main(["flux", "enable-decryption", "--infra", str(infra)]) == 0
    assert found(infra) == []


def test_a_cluster_without_secrets_needs_no_decryption(infra: Path) -> None:
    """iguana runs no service, so it holds no encrypted Secret: no decryption needed."""
    bootstrap(infra, "iguana")
    assert [f for f in found(infra) if f.check == "flux"] == []
