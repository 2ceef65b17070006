"""The scratch copy `adopt` renders in holds no plaintext Secret value.

What could go wrong: a Secret document among others in one file (only it may change; the
others keep their exact text, or a YAML 1.1 rewrite would change what kustomize reads), a
`---` with a comment, `data` and `stringData` both, a Secret that sops already encrypted
(kept: its ciphertext is no secret), a file that is not YAML.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from generator.adopt_scratch import (
    PLACEHOLDER,
    redact_env_file,
    redact_secret_patch,
    redact_secrets,
    scratch_copy,
)
from generator.kubectl import kustomize_build

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


SECRET_BASE = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\n"
PATCHED = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [secret.yaml, config.yaml]
patches:
  - patch: |-
      apiVersion: v1
      kind: Secret
      metadata: {name: s}
      stringData: {SMP: smp-secret}
  - target: {kind: Secret, name: s}
    patch: |-
      - {op: add, path: /stringData/OP, value: op-secret}
      - {op: add, path: /metadata/labels, value: {team: kept}}
  - target: {kind: Secret, name: s}
    path: ops.json
  - target: {kind: ConfigMap, name: c}
    patch: '[{"op": "add", "path": "/data/flag", "value": "config-kept"}]'
"""
CONFIG_BASE = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {}\n"


def test_a_secret_patch_loses_its_values_and_keeps_its_keys() -> None:
    smp = "kind: Secret\nmetadata: {name: s}\ndata: {A: YQ==}\nstringData: {B: b}\n"
    assert yaml.safe_load(redact_secret_patch(smp, None) or "") == {
        "kind": "Secret",
        "metadata": {"name": "s"},
        "data": {"A": "cmVkYWN0ZWQtYnktZ2l0b3BzLW9uYm9hcmQ="},
        "stringData": {"B": PLACEHOLDER},
    }
    no_kind = "stringData: {B: b}\n"
    assert redact_secret_patch(no_kind, None) is None  # not aimed at a Secret
    assert yaml.safe_load(redact_secret_patch(no_kind, "Secret") or "") == {
        "stringData": {"B": PLACEHOLDER}
    }
    ops = (
        '[{"op": "add", "path": "/data", "value": {"A": "YQ=="}},'
        ' {"op": "replace", "path": "/stringData/B", "value": "b"},'
        ' {"op": "add", "path": "", "value": {"kind": "Secret", "stringData": {"C": "c"}}},'
        ' {"op": "add", "path": "/metadata/labels/x", "value": "kept"},'
        ' {"op": "remove", "path": "/data/D"}]'
    )
    redacted = redact_secret_patch(ops, "Secret")
    assert redacted is not None and redacted.startswith("[")  # JSON stays JSON
    assert json.loads(redacted) == [
        {"op": "add", "path": "/data", "value": {"A": "cmVkYWN0ZWQtYnktZ2l0b3BzLW9uYm9hcmQ="}},
        {"op": "replace", "path": "/stringData/B", "value": PLACEHOLDER},
        {"op": "add", "path": "", "value": {"kind": "Secret", "stringData": {"C": PLACEHOLDER}}},
        {"op": "add", "path": "/metadata/labels/x", "value": "kept"},
        {"op": "remove", "path": "/data/D"},
    ]
    assert redact_secret_patch(ops, "ConfigMap") is None
    assert redact_secret_patch(ops, None) is None
    assert redact_secret_patch("key: [unclosed", "Secret") is None


def test_the_scratch_copy_builds_the_same_secret_keys_without_a_patched_value(
    tmp_path: Path,
) -> None:
    """Patches in the kustomization and in files aimed at a Secret by `target`: the copy
    holds none of their values, kustomize builds it to a Secret with the same keys, and
    what patches anything else is copied as written."""
    root = tmp_path / "repo"
    service = root / "apps/patched"
    service.mkdir(parents=True)
    (service / "kustomization.yaml").write_text(PATCHED)
    (service / "secret.yaml").write_text(SECRET_BASE)
    (service / "config.yaml").write_text(CONFIG_BASE)
    (service / "ops.json").write_text(
        '[{"op": "add", "path": "/stringData/FILE", "value": "file-secret"}]'
    )
    scratch = scratch_copy(root, tmp_path / "tmp", leave_out=root / "apps/other")
    copied = scratch / "apps/patched"
    for path in scratch.rglob("*"):
        assert path.is_dir() or b"-secret" not in path.read_bytes(), path
    before, after = (kustomize_build(folder) for folder in (service, copied))
    secret = {o["kind"]: o for o in after}["Secret"]
    assert sorted(secret["stringData"]) == ["FILE", "OP", "SMP"]
    assert set(secret["stringData"].values()) == {PLACEHOLDER}
    assert secret["metadata"]["labels"] == {"team": "kept"}
    assert [o for o in after if o["kind"] == "ConfigMap"] == [
        o for o in before if o["kind"] == "ConfigMap"
    ]
    assert (copied / "config.yaml").read_text() == CONFIG_BASE
