"""The scratch copy `adopt` renders in holds no plaintext Secret value.

What could go wrong: a Secret document among others in one file (only it may change; the
others keep their exact text, or a YAML 1.1 rewrite would change what kustomize reads), a
`---` with a comment, `data` and `stringData` both, a Secret that sops already encrypted
(kept: its ciphertext is no secret), a file that is not YAML.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from generator.adopt_scratch import PLACEHOLDER, redact_env_file, redact_secrets, scratch_copy

PH = PLACEHOLDER.encode()
CONFIG = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {flag: on, n: 010}\n"
SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
    "data: {a: c2VjcmV0LWE=}\nstringData:\n  b: |\n    secret-b\n    line two\n"
)


def test_only_the_secret_document_changes_and_keeps_its_key_names() -> None:
    text = CONFIG + "--- # the secret\n" + SECRET + "---\n" + CONFIG
    out = redact_secrets(text)
    assert out is not None
    assert "secret-b" not in out and "c2VjcmV0LWE=" not in out
    assert out.startswith(CONFIG) and out.endswith("---\n" + CONFIG)
    docs = list(yaml.safe_load_all(out))
    assert docs[1]["stringData"] == {"b": PLACEHOLDER}
    assert set(docs[1]["data"]) == {"a"}
    assert docs[1]["metadata"] == {"name": "s"}


def test_text_without_a_plaintext_secret_is_left_alone() -> None:
    encrypted = SECRET + "sops: {version: 3.11.0}\n"
    assert redact_secrets(CONFIG) is None
    assert redact_secrets(encrypted) is None
    assert redact_secrets("key: [unclosed\n") is None
    assert redact_secrets("") is None


def test_an_env_file_keeps_its_keys_comments_and_line_breaks() -> None:
    data = b"# db\r\nUSER=u=1\r\n\r\n  SPACED = s\nFROM_ENV\n#X=not-a-value\nLAST=l"
    assert redact_env_file(data) == (
        b"# db\r\nUSER=" + PH + b"\r\n\r\n  SPACED =" + PH + b"\nFROM_ENV\n#X=not-a-value\n"
        b"LAST=" + PH
    )


def test_the_scratch_copy_holds_no_secret_generator_input(tmp_path: Path) -> None:
    """Literals, files and env files of every secretGenerator, through a link too: the link
    copies as a link, and the file it points to holds the placeholder. Everything else is
    copied byte for byte, and the folder left out is not copied at all."""
    root = tmp_path / "repo"
    service = root / "apps/gen"
    (service / "conf").mkdir(parents=True)
    (root / "shared").mkdir()
    (root / "shared/real-token").write_text("linked-secret")
    (service / "token").symlink_to("../../shared/real-token")
    (service / "conf/raw.bin").write_bytes(b"\xffbinary-secret")
    (service / "db.env").write_text("PASSWORD=env-secret\n")
    kustomization = (
        "secretGenerator:\n- name: gen\n  literals: [A=literal-secret]\n"
        "  files: [token, key=conf/raw.bin]\n  envs: [db.env]\n"
    )
    (service / "kustomization.yml").write_text(kustomization)
    (service / "deployment.yaml").write_text("kind: Deployment # as written\n")
    (root / "apps/adopted").mkdir()
    (root / "apps/adopted/kustomization.yaml").write_text(
        "secretGenerator:\n- {name: a, literals: [A=left-out]}\n"
    )
    scratch = scratch_copy(root, tmp_path / "tmp", leave_out=root / "apps/adopted")
    copied = scratch / "apps/gen"
    assert not (scratch / "apps/adopted").exists()
    assert (copied / "token").readlink() == Path("../../shared/real-token")
    assert (scratch / "shared/real-token").read_bytes() == PH
    assert (copied / "conf/raw.bin").read_bytes() == PH
    assert (copied / "db.env").read_bytes() == b"PASSWORD=" + PH + b"\n"
    assert (copied / "kustomization.yml").read_text() == kustomization.replace(
        "A=literal-secret", f'"A={PLACEHOLDER}"'
    )
    assert (copied / "deployment.yaml").read_text() == "kind: Deployment # as written\n"
    for path in (scratch).rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert b"secret" not in path.read_bytes().replace(b"secretGenerator", b""), path


def test_a_named_pipe_is_neither_read_nor_copied(tmp_path: Path) -> None:
    """An env file that is a named pipe: reading it would wait for ever, copying it fails."""
    service = tmp_path / "repo/apps/gen"
    service.mkdir(parents=True)
    os.mkfifo(service / "pipe.env")
    (service / "kustomization.yaml").write_text("secretGenerator:\n- {name: s, envs: [pipe.env]}\n")
    scratch = scratch_copy(tmp_path / "repo", tmp_path / "tmp", leave_out=service.parent / "x")
    assert sorted(p.name for p in (scratch / "apps/gen").iterdir()) == ["kustomization.yaml"]
