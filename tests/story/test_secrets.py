"""A service's encrypted Secret: onboarding sources, set/list/unset, audit, Copier alone."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from generator import audit, sops
from generator import service_secrets as secret_files
from generator.age import generate
from generator.cli import main
from generator.copier_run import copying as copier_api
from generator.errors import InputError
from generator.kubectl import kustomize_build
from generator.secret_parsing import parse_values
from generator.spec import ServiceSpec
from generator.transaction import apply
from tests.helpers import AgeKey, tree_bytes

WEB = {
    "service": "web",
    "registry": "gitea.example.com",
    "owner": "team",
    "port": 8080,
    "clusters": ["koala"],
    "secret_keys": ["API_KEY", "DB_PASSWORD"],
    "image_pull_secret": "",
}


def _stamp_secrets(root: Path, values: dict[str, str] | None = None) -> Path:
    """apps/web/secrets.enc.yaml and a kustomization, as onboarding writes them (no Copier)."""
    service_dir = root / "apps/web"
    spec = ServiceSpec.from_answers(WEB)
    changes, _ = secret_files.plan_service_secrets(root, service_dir, spec, values)
    apply(changes)
    (service_dir / "kustomization.yaml").write_text(
        "namespace: web\nresources:\n  - secrets.enc.yaml\n"
    )
    answers = {**WEB, "kind": "service", "_commit": "v1.0.0"}
    (service_dir / ".copier-answers.yml").write_text(json.dumps(answers))
    return service_dir / secret_files.SECRETS_FILE


def _plain(root: Path, path: Path) -> dict[str, Any]:
    doc = YAML(typ="safe", pure=True).load(sops.decrypt_file(path, root=root))
    assert isinstance(doc, dict)
    return doc


def _cli(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


# ── values from stdin, files and the environment ───────────────────────────


@pytest.mark.parametrize(
    "text",
    [
        'API_KEY: "a $b"\nDB_PASSWORD: "line\\nline"\n',
        '{"API_KEY": "a $b", "DB_PASSWORD": "line\\nline"}',
        'export API_KEY="a $b"\n# comment\nDB_PASSWORD="line\\nline"\n',
        "API_KEY='a $b'\nDB_PASSWORD=\"line\nline\"\n",
    ],
    ids=["yaml", "json", "dotenv", "dotenv-multiline"],
)
def test_values_are_read_from_yaml_json_or_dotenv(text: str) -> None:
    assert parse_values(text) == {"API_KEY": "a $b", "DB_PASSWORD": "line\nline"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("API_KEY: 12\n", "--secrets-from: API_KEY: values must be strings; quote it"),
        ("just words\n", "--secrets-from: line 1: expected KEY=VALUE"),
        ('A="open\n', "--secrets-from: line 1: unterminated double-quoted value"),
    ],
)
def test_unreadable_values_name_the_rule_never_the_value(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_values(text)
    assert str(caught.value).startswith(message)
    assert "12" not in str(caught.value).removeprefix(message)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (
            'UNKNOWN: "x"\n',
            "UNKNOWN is not one of the service's secret_keys (API_KEY, DB_PASSWORD)",
        ),
        ("API_KEY: [1]\n", "API_KEY: values must be strings; quote it"),
    ],
)
def test_bad_values_stop_onboarding_before_anything_is_written(
    infra_repo: Path,
    template_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stdin: str,
    message: str,
) -> None:
    before = tree_bytes(infra_repo)
    data = ["--data", "secret_keys=[API_KEY, DB_PASSWORD]", "--data", "registry=r.example.com"]
    argv = ["onboard", "--infra", str(infra_repo), "--template", str(template_repo)]
    argv += [
        "--service",
        "web",
        "--clusters",
        "koala",
        "--data",
        "owner=o",
        "--data",
        "port=80",
        *data,
    ]
    assert _cli([*argv, "--secrets-from", "-"], monkeypatch, stdin) == 2
    assert message in capsys.readouterr().err
    assert tree_bytes(infra_repo) == before


def test_onboarding_prompts_on_a_terminal_and_leaves_placeholders(
    infra_repo: Path,
    template_repo: Path,
    age_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prompts: list[str] = []
    answers = iter(["s3cr3t value", ""])

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("getpass.getpass", getpass)
    monkeypatch.setattr("sys.stdin", Terminal())
    argv = ["onboard", "--infra", str(infra_repo), "--template", str(template_repo)]
    argv += ["--service", "web", "--clusters", "koala", "--data", "registry=r.example.com"]
    argv += [
        "--data",
        "owner=o",
        "--data",
        "port=80",
        "--data",
        "secret_keys=[API_KEY, DB_PASSWORD]",
    ]
    assert main(argv) == 0
    assert prompts == [
        "web API_KEY (input hidden, empty for later): ",
        "web DB_PASSWORD (input hidden, empty for later): ",
    ]
    out = capsys.readouterr().out
    assert (
        "still to set (placeholders now): DB_PASSWORD; run `gitops-onboard secrets set web KEY`"
        in out
    )
    assert "s3cr3t" not in out
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    plain = _plain(infra_repo, infra_repo / "apps/web/secrets.enc.yaml")
    assert plain["stringData"]["API_KEY"] == "s3cr3t value"
    assert secret_files.is_placeholder(plain["stringData"]["DB_PASSWORD"])
    assert plain["metadata"] == {
        "name": "web-secrets",
        "namespace": "web",
        "labels": {
            "app.kubernetes.io/name": "web",
            "app.kubernetes.io/managed-by": "gitops-onboard",
        },
        "annotations": {
            "kustomize.toolkit.fluxcd.io/substitute": "disabled",
            # Readable without the key, so `check` tells what is left to set.
            "gitops-onboard/placeholders": "DB_PASSWORD",
        },
    }
    kustomization = (infra_repo / "apps/web/kustomization.yaml").read_text()
    assert "  - secrets.enc.yaml\n" in kustomization


def test_copier_alone_creates_placeholders_with_the_public_key_only(
    infra_repo: Path,
    template_repo: Path,
    age_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    data = {**WEB, "kind": "service", "image_pull_secret": "registry-credentials"}
    copier_api.copy(str(template_repo), infra_repo / "apps/web", data)
    err = capfd.readouterr().err
    assert (
        "apps/web/secrets.enc.yaml: no value yet for API_KEY, DB_PASSWORD; set each with "
        "`gitops-onboard secrets set web KEY`" in err
    )
    assert "pull-secrets/registry-credentials: placeholder without registry credentials" in err
    path = infra_repo / "apps/web/secrets.enc.yaml"
    assert list(secret_files.key_names(path.read_text())) == ["API_KEY", "DB_PASSWORD"]
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    assert secret_files.pending_keys(infra_repo, "web") == ["API_KEY", "DB_PASSWORD"]


# ── set, list, unset ─────────────────────────────────────────────────────────


def test_set_replaces_a_placeholder_and_a_rerun_changes_no_byte(
    infra_repo: Path,
    age_private_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _stamp_secrets(infra_repo)
    argv = ["secrets", "set", "web", "API_KEY", "--infra", str(infra_repo)]
    assert _cli(argv, monkeypatch, "tok-$1-${X}\n") == 0
    assert capsys.readouterr().out == "web API_KEY: updated\n"
    assert _plain(infra_repo, path)["stringData"]["API_KEY"] == "tok-$1-${X}"  # echo's newline
    before = path.read_bytes()
    assert _cli(argv, monkeypatch, "tok-$1-${X}\n") == 0
    assert capsys.readouterr().out == "web API_KEY: unchanged\n"
    assert path.read_bytes() == before


def test_a_new_key_is_inserted_in_the_order_kustomize_writes(
    infra_repo: Path,
    age_private_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _stamp_secrets(infra_repo, {"API_KEY": "a"})
    argv = ["secrets", "set", "web", "CACHE_URL", "--infra", str(infra_repo)]
    assert _cli(argv, monkeypatch, "redis://cache:6379") == 0
    captured = capsys.readouterr()
    assert captured.out == "web CACHE_URL: added\n"
    assert "CACHE_URL is not in secret_keys of apps/web" in captured.err
    assert list(secret_files.key_names(path.read_text())) == ["API_KEY", "CACHE_URL", "DB_PASSWORD"]
    # kustomize sorts keys; the file already is, so the built Secret passes the MAC check.
    (secret,) = kustomize_build(path.parent)
    buffer = io.StringIO()
    YAML(typ="safe", pure=True).dump(secret, buffer)
    plain = YAML(typ="safe", pure=True).load(sops.decrypt_text(buffer.getvalue()))
    assert plain["stringData"]["CACHE_URL"] == "redis://cache:6379"
    assert plain["stringData"]["API_KEY"] == "a"


def test_list_prints_names_and_marks_placeholders_only_with_the_key(
    infra_repo: Path,
    age_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _stamp_secrets(infra_repo, {"API_KEY": "value-never-listed"})
    argv = ["secrets", "list", "web", "--infra", str(infra_repo)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == "API_KEY\nDB_PASSWORD\n"
    assert "no age private key at hand; placeholders are not marked" in captured.err
    stranger = age_key.path.parent / "stranger-keys.txt"
    stranger.write_text(generate().key_file_text)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(stranger))
    assert main(argv) == 0
    assert "the age private key at hand is not one of its recipients" in capsys.readouterr().err
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out == (
        "API_KEY\nDB_PASSWORD  (placeholder: set it with `gitops-onboard secrets set`)\n"
    )
    assert "value-never-listed" not in out
    assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"name": "API_KEY", "placeholder": False, "declared": True, "present": True},
        {"name": "DB_PASSWORD", "placeholder": True, "declared": True, "present": True},
    ]


def test_unset_removes_a_key_once(
    infra_repo: Path,
    age_private_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _stamp_secrets(infra_repo, {"API_KEY": "a", "DB_PASSWORD": "b"})
    argv = ["secrets", "unset", "web", "DB_PASSWORD", "--infra", str(infra_repo)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == "web DB_PASSWORD: removed\n"
    assert "DB_PASSWORD is still declared in secret_keys" in captured.err
    assert _plain(infra_repo, path)["stringData"] == {"API_KEY": "a"}
    before = path.read_bytes()
    assert main(argv) == 0
    assert capsys.readouterr().out == "web DB_PASSWORD: was not set\n"
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["secrets", "set", "api", "K"], "v", "service: apps/api does not exist"),
        (["secrets", "set", "web", "BAD-NAME"], "v", "KEY: names must match"),
        (["secrets", "set", "web", "API_KEY"], "", "value of API_KEY: got no value on stdin"),
        (["secrets", "set", "Web", "K"], "v", "service: must be a DNS-1035 label"),
    ],
)
def test_bad_secret_commands_change_nothing(
    infra_repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str,
    message: str,
) -> None:
    _stamp_secrets(infra_repo)
    before = tree_bytes(infra_repo)
    assert _cli([*argv, "--infra", str(infra_repo)], monkeypatch, stdin) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gitops-onboard: error: {message}") and err.count("\n") == 1
    assert tree_bytes(infra_repo) == before


def test_a_service_without_secret_keys_is_told_how_to_declare_them(
    infra_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (infra_repo / "apps/api").mkdir(parents=True)
    argv = ["secrets", "set", "api", "TOKEN", "--infra", str(infra_repo)]
    assert _cli(argv, monkeypatch, "x") == 2
    assert "copier update --trust --data 'secret_keys=[KEY]' apps/api" in capsys.readouterr().err


# ── audit ────────────────────────────────────────────────────────────────────

PLAIN_SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n  K: v\n"


def test_audit_fails_on_a_plaintext_secret_anywhere(
    infra_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _stamp_secrets(infra_repo, {"API_KEY": "a", "DB_PASSWORD": "b"})
    assert main(["secrets", "audit", str(infra_repo)]) == 0
    assert capsys.readouterr().out == "secrets audit: every Secret is encrypted\n"
    (infra_repo / "clusters/koala/extra.yaml").write_text(
        "---\nkind: ConfigMap\n---\n" + PLAIN_SECRET
    )
    assert main(["secrets", "audit", str(infra_repo)]) == 1
    problem = (
        "Secret leak holds plaintext values (no sops metadata); keep "
        "values in an encrypted *.enc.yaml (gitops-onboard secrets set, pull-secret set)"
    )
    assert capsys.readouterr().out == f"clusters/koala/extra.yaml: {problem}\n"
    assert main(["secrets", "audit", str(infra_repo), "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out) == [
        {"file": "clusters/koala/extra.yaml", "problem": problem, "fix": ""}
    ]


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("a.enc.yaml", PLAIN_SECRET, "is named *.enc.yaml but is not encrypted with sops"),
        ("a.enc.yaml", "key: [unclosed\n", "cannot be read as YAML"),
        ("b.yaml", "kind: Secret\nmetadata: {name: s}\ntype: Opaque\n", None),
        (
            "c.yaml",
            "kind: ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]\nsops: {}\n",
            "kind and metadata are encrypted",
        ),
    ],
)
def test_audit_rules(name: str, text: str, problem: str | None) -> None:
    found = [f.problem for f in audit.audit_text(text, name)]
    if problem is None:
        assert found == []
    else:
        assert any(problem in f for f in found), found


def test_audit_checks_the_creation_rule(infra_repo: Path) -> None:
    config = infra_repo / ".sops.yaml"
    config.write_text(config.read_text().replace("    mac_only_encrypted: true\n", ""))
    assert [str(f) for f in audit.audit(infra_repo)] == [
        ".sops.yaml: the rule for *.enc.yaml: mac_only_encrypted must be true"
    ]


def test_audit_catches_a_plaintext_value_slipped_into_an_encrypted_file(
    infra_repo: Path,
) -> None:
    path = _stamp_secrets(infra_repo, {"API_KEY": "a", "DB_PASSWORD": "b"})
    text = path.read_text().replace("stringData:\n", "stringData:\n    AAA_PLAIN: oops\n")
    assert [str(f) for f in audit.audit_text(text, "apps/web/secrets.enc.yaml")] == [
        "apps/web/secrets.enc.yaml: Secret web-secrets: stringData.AAA_PLAIN is not encrypted"
    ]
    unsorted = path.read_text().replace("    API_KEY:", "    ZZZ:")
    assert any(
        "keys of stringData are not sorted" in str(f)
        for f in audit.audit_text(unsorted, "x.enc.yaml")
    )


def test_set_asks_without_echo_on_a_terminal(
    infra_repo: Path,
    age_private_key: AgeKey,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _stamp_secrets(infra_repo)
    prompts: list[str] = []

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return "typed secret\n"  # what the user typed, newline included, is kept as is

    monkeypatch.setattr("getpass.getpass", getpass)
    monkeypatch.setattr("sys.stdin", Terminal())
    assert main(["secrets", "set", "web", "API_KEY", "--infra", str(infra_repo)]) == 0
    assert prompts == ["value of API_KEY (input hidden): "]
    assert "typed secret" not in capsys.readouterr().out
    assert _plain(infra_repo, path)["stringData"]["API_KEY"] == "typed secret\n"
