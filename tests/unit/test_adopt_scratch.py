"""The scratch copy `adopt` renders in holds no plaintext Secret value.

What could go wrong: a Secret document among others in one file (only it may change; the
others keep their exact text, or a YAML 1.1 rewrite would change what kustomize reads), a
`---` with a comment, `data` and `stringData` both, a Secret that sops already encrypted
(kept: its ciphertext is no secret), a file that is not YAML.
"""

from __future__ import annotations

import yaml

from generator.adopt_scratch import PLACEHOLDER, redact_secrets

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
