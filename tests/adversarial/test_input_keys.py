"""A private key pasted into any input is never shown.

See tests/adversarial/_input.py for the attacker's tools and what was wrong.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyrage
import pytest
import yaml
from copier import run_copy

from tests.adversarial._input import (
    APP,
    QUESTIONS,
    REDACTED,
    VARIANTS,
    _init,
    _onboard,
    _web,
    assert_never_shown,
    empty_repo,
    new_private_key,
    run_cli,
    variant_of,
)
from tests.helpers import AgeKey, commit_all, tree_bytes

# ═══ 1. A private key is never shown ═════════════════════════════════════════════════════════
# Each attack puts the key where a command could echo it; `ctx` has the repos and the template.
Attack = Callable[[dict[str, Any], str], tuple[list[str], str]]


def _file(ctx: dict[str, Any], name: str, text: str) -> str:
    path = ctx["tmp"] / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _plain_secret(ctx: dict[str, Any], key: str) -> str:
    """A plaintext Secret that `audit` reports: the key is its file, its name and its value."""
    folder = ctx["tmp"] / key
    folder.mkdir(exist_ok=True)
    (folder / f"{key}.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {key}}}\nstringData: {{A: {key}}}\n"
    )
    return str(folder)


ATTACKS: dict[str, Attack] = {
    # init: every answer and flag of the infra root
    "init-age-recipients-unclosed": lambda c, k: (
        _init(c, "--clusters", "koala", "-d", f"age_recipients=[{k}"),
        "",
    ),
    "init-age-recipients-lowercase-unclosed": lambda c, k: (
        _init(c, "--clusters", "koala", "-d", f"age_recipients=[{k.lower()}"),
        "",
    ),
    "init-age-recipients": lambda c, k: (
        _init(c, "--clusters", "koala", "-d", f"age_recipients=[{k}]"),
        "",
    ),
    "init-age-recipient-flag": lambda c, k: (
        _init(c, "--clusters", "koala", "--age-recipient", k),
        "",
    ),
    "init-clusters-flag": lambda c, k: (
        _init(c, "--clusters", k, "--age-recipient", c["public"]),
        "",
    ),
    "init-clusters-data": lambda c, k: (
        _init(c, "-d", f"clusters=[{k}]", "--age-recipient", c["public"]),
        "",
    ),
    "init-check-runner": lambda c, k: (
        _init(c, "--clusters", "koala", "--age-recipient", c["public"], "-d", f"check_runner={k}"),
        "",
    ),
    "init-question-name": lambda c, k: (_init(c, "--clusters", "koala", "-d", f"{k}=1"), ""),
    "init-data-without-equals": lambda c, k: (_init(c, "--clusters", "koala", "-d", k), ""),
    "init-data-file-unclosed": lambda c, k: (
        _init(c, "--data-file", _file(c, "a.yml", f"clusters: [koala]\nage_recipients: [{k}\n")),
        "",
    ),
    "init-data-file-long-line": lambda c, k: (
        _init(c, "--data-file", _file(c, "a.yml", f"age_recipients: [{k}, {k}, {k}\n")),
        "",
    ),
    "init-data-file-name": lambda c, k: (
        _init(c, "--data-file", str(c["tmp"] / f"{k}.yml")),
        "",
    ),
    "init-template": lambda c, k: (
        [
            "init",
            "--template",
            str(c["tmp"] / k),
            "--clusters",
            "koala",
            "--age-recipient",
            c["public"],
            str(c["tmp"] / "new-infra"),
        ],
        "",
    ),
    "init-vcs-ref": lambda c, k: (
        _init(c, "--clusters", "koala", "--age-recipient", c["public"], "--vcs-ref", k),
        "",
    ),
    # onboard: flags, yaml answers, secret names, a broken cluster file, the app side
    "onboard-service-flag": lambda c, k: (
        _onboard(c, "--service", k, *_web("-d", "clusters=[koala]")),
        "",
    ),
    "onboard-clusters-flag": lambda c, k: (
        _onboard(c, "--service", "web", "--clusters", k, *_web()),
        "",
    ),
    "onboard-env-name": lambda c, k: (
        _onboard(c, "--service", "web", "--clusters", "koala", *_web("-d", f"env={{{k}: x}}")),
        "",
    ),
    "onboard-env-value": lambda c, k: (
        _onboard(c, "--service", "web", "--clusters", "koala", *_web("-d", f"env={{A: {k}}}")),
        "",
    ),
    "onboard-env-unclosed": lambda c, k: (
        _onboard(c, "--service", "web", "--clusters", "koala", *_web("-d", f"env={{A: {k}")),
        "",
    ),
    "onboard-secret-keys": lambda c, k: (
        _onboard(c, "--service", "web", "--clusters", "koala", *_web("-d", f"secret_keys=[{k}]")),
        "",
    ),
    "onboard-secret-name-in-values": lambda c, k: (
        _onboard(
            c,
            "--service",
            "web",
            "--clusters",
            "koala",
            *_web("-d", "secret_keys=[A]", "--secrets-from", "-"),
        ),
        f"{k}: x\n",
    ),
    "onboard-broken-cluster-file": lambda c, k: (
        _onboard(c, "--service", "api", "--clusters", "koala", *_web()),
        "",
    ),
    "onboard-app-test-command": lambda c, k: (
        _onboard(
            c,
            "--service",
            "web",
            "--clusters",
            "koala",
            "--app-repo",
            str(c["app"]),
            *_web("-d", "language=go", "-d", f"infra_repo={APP['infra_repo']}"),
            "-d",
            f"test_command=go test ./... # {k}",
        ),
        "",
    ),
    "onboard-app-infra-repo": lambda c, k: (
        _onboard(
            c,
            "--service",
            "web",
            "--clusters",
            "koala",
            "--app-repo",
            str(c["app"]),
            *_web("-d", "language=go", "-d", f"infra_repo=git@{k}:team/infra.git"),
        ),
        "",
    ),
    # every other writing command
    "offboard-service": lambda c, k: (["offboard", "--infra", str(c["infra"]), "--yes", k], ""),
    "offboard-infra-path": lambda c, k: (
        ["offboard", "--infra", str(c["tmp"] / k), "--yes", "web"],
        "",
    ),
    "secrets-set-service": lambda c, k: (
        ["secrets", "set", "--infra", str(c["infra"]), k, "A"],
        "v",
    ),
    "secrets-set-key-name": lambda c, k: (
        ["secrets", "set", "--infra", str(c["infra"]), "web", k],
        "v",
    ),
    "secrets-set-value": lambda c, k: (
        ["secrets", "set", "--infra", str(c["infra"]), "web", "API_TOKEN"],
        k,
    ),
    "secrets-unset-key-name": lambda c, k: (
        ["secrets", "unset", "--infra", str(c["infra"]), "web", k],
        "",
    ),
    "secrets-list-service": lambda c, k: (["secrets", "list", "--infra", str(c["infra"]), k], ""),
    "secrets-list-json-service": lambda c, k: (
        ["secrets", "list", "--format", "json", "--infra", str(c["infra"]), k],
        "",
    ),
    "secrets-audit-path": lambda c, k: (["secrets", "audit", _plain_secret(c, k)], ""),
    "secrets-audit-path-json": lambda c, k: (
        ["secrets", "audit", "--format", "json", _plain_secret(c, k)],
        "",
    ),
    "pull-secret-registry": lambda c, k: (
        ["pull-secret", "set", "--infra", str(c["infra"]), "--registry", k, "--username", "ci"],
        "token",
    ),
    "pull-secret-username": lambda c, k: (
        [
            "pull-secret",
            "set",
            "--infra",
            str(c["infra"]),
            "--registry",
            "r.example.com",
            "--username",
            k,
        ],
        "token",
    ),
    "pull-secret-name": lambda c, k: (
        [
            "pull-secret",
            "set",
            "--infra",
            str(c["infra"]),
            "--registry",
            "r.example.com",
            "--username",
            "ci",
            "--name",
            k,
        ],
        "token",
    ),
    "pull-secret-token": lambda c, k: (
        [
            "pull-secret",
            "set",
            "--infra",
            str(c["infra"]),
            "--registry",
            "r.example.com",
            "--username",
            "ci",
        ],
        k,
    ),
    "recipients-add": lambda c, k: (["recipients", "add", "--infra", str(c["infra"]), k], ""),
    "recipients-remove": lambda c, k: (["recipients", "remove", "--infra", str(c["infra"]), k], ""),
    "check-format": lambda c, k: (["check", "--format", k, str(c["infra"])], ""),
    "update-jobs": lambda c, k: (["update", "--jobs", k, str(c["infra"])], ""),
    "unknown-command": lambda c, k: ([k], ""),
}


def _answer_attack(question: str) -> Attack:
    """`onboard --data QUESTION=<key>`, the key shaped to the question's type."""

    def attack(ctx: dict[str, Any], key: str) -> tuple[list[str], str]:
        value = key
        if QUESTIONS[question]["type"] == "yaml":
            value = f"{{A: {key}}}" if question in ("env", "extra_ports") else f"[{key}]"
        base = {"service": "api", "registry": "r.example.com", "owner": "team"}
        flags = [f"{k}={v}" for k, v in base.items() if k != question]
        argv = [item for given in [*flags, f"{question}={value}"] for item in ("-d", given)]
        return _onboard(ctx, "--clusters", "koala", *argv), ""

    return attack


# Every question of copier.yml, answered with the key through `onboard --data`.
ATTACKS.update({f"onboard-answer-{q}": _answer_attack(q) for q in QUESTIONS})

# A private key is a fine secret value or registry user name: stored encrypted, never shown.
ACCEPTED = {"secrets-set-value", "pull-secret-token", "pull-secret-username"}
# Refused without a word of the input: nothing to redact.
NOTHING_ECHOED = {
    "secrets-set-value",
    "pull-secret-token",
    "init-template",
    "onboard-broken-cluster-file",
    "onboard-secret-name-in-values",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_private_key_in_any_input_is_never_shown(
    attack: str,
    web_infra: Path,
    template_repo: Path,
    tmp_path: Path,
    age_private_key: AgeKey,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The key pasted into an answer, a flag, a file or stdin appears in no output."""
    key = new_private_key()
    app = empty_repo(tmp_path / "app")
    ctx = {
        "infra": web_infra,
        "template": template_repo,
        "tmp": tmp_path,
        "app": app,
        "public": age_private_key.public,
    }
    if attack == "onboard-broken-cluster-file":
        (web_infra / "clusters/koala/kustomization.yaml").write_text(f"resources: [{key}\n")
    argv, stdin = ATTACKS[attack](ctx, key)
    before = tree_bytes(web_infra)
    code, output = run_cli(argv, capfd, stdin)
    assert_never_shown(output, key)
    assert_never_shown(
        "\n".join(
            p.read_text(errors="replace")
            for p in (tmp_path / "new-infra").rglob("*")
            if p.is_file()
        )
        if (tmp_path / "new-infra").exists()
        else "",
        key,
    )
    if attack in ACCEPTED:
        assert code == 0, output  # taken (stored encrypted) but never shown
    else:
        assert code != 0, output
        assert tree_bytes(web_infra) == before
    if attack not in NOTHING_ECHOED:
        assert "age private key" in output.lower() or REDACTED in output, output


def test_redaction_blanks_every_form_of_a_key_and_spares_public_keys() -> None:
    """Upper, lower or mixed case, cut off by a parser's shortened snippet: all blanked."""
    from generator.errors import redact
    from generator.redaction import identity_prefix

    identity = pyrage.x25519.Identity.generate()
    key, public = str(identity), str(identity.to_public())
    assert key.startswith(identity_prefix())  # the assembled prefix is the one age writes
    for shown in (key, key.lower(), key.capitalize(), f"... {key[20:]}", f"[{key}, {key}]"):
        assert_never_shown(redact(f"got {shown!r} near {public}"), key)
        assert public in redact(f"got {shown!r} near {public}")
    assert redact(f"must be written in lowercase as {public}") == (
        f"must be written in lowercase as {public}"
    )


def _tamper_answers(infra: Path, key: str) -> None:
    path = infra / "apps/web/.copier-answers.yml"
    answers = yaml.safe_load(path.read_text())
    answers["env"] = {"A": key}
    answers["image_tag"] = key
    path.write_text(yaml.safe_dump(answers))
    commit_all(infra, "tamper")


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--offline"],
        ["check", "--offline", "--format", "json"],
        ["update", "--dry-run"],
        ["update", "--dry-run", "--format", "json"],
    ],
    ids=lambda a: "-".join(a),
)
def test_a_private_key_in_an_answers_file_is_never_shown(
    argv: list[str], web_infra: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """`check` and `update` echo answers (drift diffs, reasons); a tampered one is redacted."""
    key = new_private_key()
    _tamper_answers(web_infra, key)
    code, output = run_cli([*argv, str(web_infra)], capfd)
    assert_never_shown(output, key)
    if "json" in argv:
        json.loads(capfd_out_json(output))
    if argv[0] == "check":
        assert code == 1
        assert "age private key" in output, output


def capfd_out_json(output: str) -> str:
    """The JSON document at the start of the captured output (stderr follows it)."""
    decoder = json.JSONDecoder()
    document, _ = decoder.raw_decode(output)
    return json.dumps(document)


# Questions whose answer reaches our validators: Copier itself casts int and bool answers and
# checks choices before any validator runs, and its own messages for those echo the value.
KEY_REACHES_VALIDATOR = sorted(
    name
    for name, spec in QUESTIONS.items()
    if spec.get("type") in ("str", "yaml") and "choices" not in spec
)


@pytest.mark.parametrize("question", KEY_REACHES_VALIDATOR)
def test_plain_copier_never_shows_a_private_key_in_a_validator_message(
    question: str,
    resolved: dict[str, dict[str, Any]],
    template_repo: Path,
    infra_repo: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """`copier copy --trust` with the key in any answer: refused, and the key is not echoed."""
    key = new_private_key()
    variant = variant_of(question, resolved)
    value: Any = key
    if QUESTIONS[question]["type"] == "yaml":
        value = {"A": key} if question in ("env", "extra_ports") else [key]
    data = {**VARIANTS[variant], question: value}
    if variant == "infra" and question != "age_recipients":
        data["age_recipients"] = [str(pyrage.x25519.Identity.generate().to_public())]
    destination = infra_repo / "apps/web" if variant.startswith("service") else tmp_path / "dst"
    before = tree_bytes(infra_repo)
    with pytest.raises(Exception) as raised:
        run_copy(str(template_repo), destination, data=data, defaults=True, unsafe=True, quiet=True)
    output = str(raised.value) + "".join(capfd.readouterr())
    assert_never_shown(output, key)
    assert question in str(raised.value)
    assert tree_bytes(infra_repo) == before


def test_the_copier_command_line_never_shows_a_key_in_a_validator_message(
    template_repo: Path, tmp_path: Path
) -> None:
    """The real `copier copy` program, with the key in a one-line answer the rules allowed."""
    key = new_private_key()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            *("--data", "kind=app", "--data", "service=web", "--data", "registry=r.example.com"),
            *("--data", "owner=team", "--data", "language=go"),
            *("--data", f"infra_repo={APP['infra_repo']}", "--data", f"git_author_name={key}"),
            str(template_repo),
            str(tmp_path / "app"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert_never_shown(result.stdout + result.stderr, key)
    assert "git_author_name" in result.stderr and "age private key" in result.stderr
