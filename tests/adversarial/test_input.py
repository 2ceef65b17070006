"""Hostile answers: a pasted private key, control characters, YAML 1.1 words, typos.

The attacker's tools are the answers themselves: `--data`, `--data-file`, flags, a tampered
answers file, or a plain `copier copy --trust`. What was wrong:

- a private key pasted into an answer was printed back whole in the error (a YAML parse error
  of `age_recipients=[AGE-SECRET-KEY-1...` with the `]` missing);
- `re.match("^...$")` accepted `"web\\n"`, and fields without a regex took `\\r`, `\\t`, `\\x00`;
- the CLI read `--data-file` as YAML 1.2 while Copier reads YAML 1.1, so `1e3`, `0o17`, `yes`,
  `off` meant different things to each;
- unknown keys (`replica=2`, `probe_paht`) were dropped without a word.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jinja2
import pyrage
import pytest
import yaml
from copier import run_copy

from generator.cli import main
from generator.copier_run.copying import resolve_answers
from tests.helpers import PROJECT, AgeKey, commit_all, git, tree_bytes

# ── the questions, read from copier.yml itself ──────────────────────────────────────────────
COPIER_YML: dict[str, Any] = yaml.safe_load((PROJECT / "copier.yml").read_text(encoding="utf-8"))
QUESTIONS: dict[str, dict[str, Any]] = {
    name: spec for name, spec in COPIER_YML.items() if not name.startswith("_")
}
STR_QUESTIONS = sorted(name for name, spec in QUESTIONS.items() if spec.get("type") == "str")

SERVICE = {
    "service": "web",
    "registry": "gitea.example.com",
    "owner": "team",
    "clusters": ["koala"],
}
APP = {"language": "go", "infra_repo": "git@gitea.example.com:team/infra.git"}
REDACTED = "[redacted age private key]"

# Valid answer sets, one per kind (and per volume type), in the order a question is placed:
# a question is tried in the first variant whose `when` holds.
VARIANTS: dict[str, dict[str, Any]] = {
    "service": {"kind": "service", **SERVICE},
    "service-hostPath": {"kind": "service", **SERVICE, "volume_type": "hostPath"},
    "service-pvc": {"kind": "service", **SERVICE, "volume_type": "pvc"},
    "app": {"kind": "app", **SERVICE, **APP},
    "infra": {"kind": "infra", "clusters": ["koala"]},
}


def applies(question: str, answers: dict[str, Any]) -> bool:
    when = QUESTIONS[question].get("when", True)
    if isinstance(when, bool):
        return when
    return jinja2.Environment().from_string(when).render(**answers).strip() == "True"


def variant_of(question: str, resolved: dict[str, dict[str, Any]]) -> str:
    for name, answers in resolved.items():
        if applies(question, answers):
            return name
    raise AssertionError(f"no answer set of this test reaches {question}; add one to VARIANTS")


# ── helpers ─────────────────────────────────────────────────────────────────────────────────
def new_private_key() -> str:
    return str(pyrage.x25519.Identity.generate())


def assert_never_shown(output: str, key: str) -> None:
    """No 10-character piece of the key's body, in any case, is in `output`."""
    body = key[len("AGE-SECRET-KEY-1") :].lower()
    shown = output.lower()
    for start in range(len(body) - 10):
        assert body[start : start + 10] not in shown, f"key material in output:\n{output}"


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    text = yaml.safe_dump(data, allow_unicode=False)
    assert yaml.safe_load(text) == data  # the file says exactly what the test means
    path.write_text(text, encoding="utf-8")
    return path


def empty_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    return path


@pytest.fixture(scope="module")
def resolved(template_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every variant with Copier's defaults applied (a pretend copy: valid values for all)."""
    public = str(pyrage.x25519.Identity.generate().to_public())
    out: dict[str, dict[str, Any]] = {}
    for name, answers in VARIANTS.items():
        data = {**answers, "age_recipients": [public]} if answers["kind"] == "infra" else answers
        scratch = tmp_path_factory.mktemp(f"resolve-{name}")
        out[name] = {**resolve_answers(str(template_repo), scratch, data), **data}
    return out


@pytest.fixture(scope="module")
def pristine_web(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> Path:
    """The infra repo with `web` onboarded (secret key API_TOKEN), committed; read only."""
    root = tmp_path_factory.mktemp("web-infra") / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    with pytest.MonkeyPatch.context() as mp:
        from tests.conftest import make_hermetic

        make_hermetic(tmp_path_factory.mktemp("web-home"), mp)
        code = main(
            [
                "onboard",
                "--infra",
                str(root),
                "--template",
                str(template_repo),
                *("-d", "service=web", "-d", "registry=gitea.example.com", "-d", "owner=team"),
                *("-d", "clusters=[koala]", "-d", "secret_keys=[API_TOKEN]"),
            ]
        )
        assert code == 0
        commit_all(root, "onboard web")
    return root


@pytest.fixture
def web_infra(tmp_path: Path, pristine_web: Path) -> Path:
    root = tmp_path / "web-infra"
    shutil.copytree(pristine_web, root, symlinks=True)
    return root


def run_cli(argv: list[str], capfd: pytest.CaptureFixture[str], stdin: str = "") -> tuple[int, str]:
    """Run the CLI in process with `stdin`; return the exit code and stdout + stderr."""
    import io

    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse refusing a value
        code = int(exit_.code or 0)
    finally:
        sys.stdin = saved
    captured = capfd.readouterr()
    return code, captured.out + captured.err


# ═══ 1. A private key is never shown ═════════════════════════════════════════════════════════
# Each attack puts the key where a command could echo it; `ctx` has the repos and the template.
Attack = Callable[[dict[str, Any], str], tuple[list[str], str]]


def _init(ctx: dict[str, Any], *extra: str) -> list[str]:
    return ["init", "--template", str(ctx["template"]), str(ctx["tmp"] / "new-infra"), *extra]


def _onboard(ctx: dict[str, Any], *extra: str) -> list[str]:
    return ["onboard", "--infra", str(ctx["infra"]), "--template", str(ctx["template"]), *extra]


def _web(*extra: str) -> tuple[str, ...]:
    return ("-d", "registry=gitea.example.com", "-d", "owner=team", *extra)


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
    "init-data-file-name": lambda c, k: (_init(c, "--data-file", str(c["tmp"] / f"{k}.yml")), ""),
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


# ═══ 2. Control characters and trailing newlines ═════════════════════════════════════════════
SUFFIXES = {"newline": "\n", "crlf": "\r\n", "nul": "\x00"}


def _cli_for(variant: str, ctx: dict[str, Any], data_file: Path) -> list[str]:
    if variant == "infra":
        return [
            "init",
            "--template",
            str(ctx["template"]),
            "--data-file",
            str(data_file),
            str(ctx["new_infra"]),
        ]
    argv = _onboard(ctx, "--data-file", str(data_file))
    if variant == "app":
        argv += ["--app-repo", str(ctx["app"])]
    return argv


@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
@pytest.mark.parametrize("question", STR_QUESTIONS)
def test_cli_refuses_a_control_character_in_every_one_line_answer(
    question: str,
    suffix: str,
    resolved: dict[str, dict[str, Any]],
    infra_repo: Path,
    template_repo: Path,
    tmp_path: Path,
    age_key: AgeKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`"web\\n"` once made `apps/web\\n/`; now every str question refuses it, nothing written."""
    variant = variant_of(question, resolved)
    answers = {
        k: v for k, v in resolved[variant].items() if k in VARIANTS[variant] or k == question
    }
    if variant == "infra":
        answers["age_recipients"] = [age_key.public]
    answers[question] = str(resolved[variant][question]) + SUFFIXES[suffix]
    app = empty_repo(tmp_path / "app")
    new_infra = tmp_path / "new-infra"
    new_infra.mkdir()
    ctx = {"infra": infra_repo, "template": template_repo, "app": app, "new_infra": new_infra}
    before = [tree_bytes(infra_repo), tree_bytes(app), tree_bytes(new_infra)]
    code = main(_cli_for(variant, ctx, write_yaml(tmp_path / "answers.yml", answers)))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"gitops-onboard: error: {question}: "), err
    assert [tree_bytes(infra_repo), tree_bytes(app), tree_bytes(new_infra)] == before


@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
@pytest.mark.parametrize("question", STR_QUESTIONS)
def test_plain_copier_refuses_a_control_character_in_every_one_line_answer(
    question: str,
    suffix: str,
    resolved: dict[str, dict[str, Any]],
    infra_repo: Path,
    template_repo: Path,
    tmp_path: Path,
    age_key: AgeKey,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The same answers through `copier copy --trust`: a validator (or the choices) refuse."""
    variant = variant_of(question, resolved)
    data = {**VARIANTS[variant], question: str(resolved[variant][question]) + SUFFIXES[suffix]}
    if variant == "infra":
        data["age_recipients"] = [age_key.public]
    destination = infra_repo / "apps/web" if variant.startswith("service") else tmp_path / "dst"
    before = tree_bytes(infra_repo)
    with pytest.raises(Exception) as raised:
        run_copy(str(template_repo), destination, data=data, defaults=True, unsafe=True, quiet=True)
    message = str(raised.value)
    assert question in message, message
    assert "Validation error" in message or "Invalid choice" in message, message
    assert tree_bytes(infra_repo) == before
    assert not destination.exists() or not any(destination.iterdir())


def test_an_ssh_host_with_a_newline_renders_no_workflow(
    infra_repo: Path, template_repo: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """`infra_ssh_host: "127.0.0.1\\n"` rendered a cd.yml that is not YAML; both paths refuse."""
    app = empty_repo(tmp_path / "app")
    answers = {**SERVICE, **APP, "infra_ssh_host": "127.0.0.1\n", "infra_ssh_port": 30022}
    code, output = run_cli(
        _onboard(
            {"infra": infra_repo, "template": template_repo},
            "--app-repo",
            str(app),
            "--data-file",
            str(write_yaml(tmp_path / "answers.yml", answers)),
        ),
        capfd,
    )
    assert code == 2 and output.startswith("gitops-onboard: error: infra_ssh_host: "), output
    assert not (app / ".gitea").exists() and not (infra_repo / "apps/web").exists()
    with pytest.raises(ValueError, match="infra_ssh_host"):
        run_copy(
            str(template_repo),
            app,
            data={**answers, "kind": "app"},
            defaults=True,
            unsafe=True,
            quiet=True,
        )
    assert not (app / ".gitea").exists()


# ═══ 3. Answers read exactly as Copier reads them (YAML 1.1) ═════════════════════════════════
# Extra answers for `web` in a --data-file; each word means something else in YAML 1.2 (`1e3` a
# float, `0o17` fifteen, `yes`/`on`/`off` strings, `010` ten). Copier takes the first case and
# refuses the others; the CLI must do exactly the same.
DATA_FILE_CASES = {
    "yaml-1.1-words": (
        "image_tag: 1e3\n"
        "env: {A: 1e3, B: 0o17, C: '007'}\n"
        'namespace: "007"\n'
        "port: 010\n"
        'replicas: "2"\n'
        "node_hostname: yes\n"
        "probe_path: /0o17\n"
        "create_missing_clusters: on"
    ),
    "env-value-yes": "env: {A: yes}",
    "env-value-on": "env: {A: on}",
    "node-hostname-tilde": "node_hostname: ~",
    "replicas-0o17": "replicas: 0o17",
    "create-missing-clusters-off": "clusters: [koala, newcluster]\ncreate_missing_clusters: off",
}
# The same words as --data NAME=VALUE, which Copier casts by the question's type.
DATA_FLAG_CASES = {
    "yaml-1.1-words": ["port=010", "image_tag=1e3", "env={A: 0o17}", "create_missing_clusters=off"],
    "env-value-yes": ["env={A: yes}"],
    "replicas-tilde": ["replicas=~"],
}


def _copier_cli(template: Path, destination: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "copier", "copy", "--trust", "--defaults"),
            *("--data", "kind=service", *args, str(template), str(destination)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def twin_infra(infra_repo: Path, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    twin = tmp_path / "twin"
    shutil.copytree(infra_repo, twin, symlinks=True)
    yield infra_repo, twin


def _same_outcome(
    cli: tuple[int, str], copier: subprocess.CompletedProcess[str], ours: Path, theirs: Path
) -> None:
    code, output = cli
    if copier.returncode != 0:
        assert code == 2, (
            f"Copier refused ({copier.stderr.strip().splitlines()[-1:]}); CLI: {output}"
        )
        assert not (ours / "apps/web").exists()
        return
    assert code == 0, f"Copier accepted; CLI said: {output}"
    answers = ".copier-answers.yml"  # the same answers; the order follows the order given
    assert yaml.safe_load((ours / "apps/web" / answers).read_text()) == yaml.safe_load(
        (theirs / "apps/web" / answers).read_text()
    )
    for name in ("deployment.yaml", "configmap.yaml", "kustomization.yaml"):
        mine, copiers = ours / "apps/web" / name, theirs / "apps/web" / name
        assert mine.exists() == copiers.exists(), name
        if mine.exists():
            assert mine.read_bytes() == copiers.read_bytes(), name
    assert tree_bytes(ours / "clusters") == tree_bytes(theirs / "clusters")


@pytest.mark.parametrize("case", sorted(DATA_FILE_CASES))
def test_data_file_answers_mean_what_they_mean_to_copier(
    case: str,
    twin_infra: tuple[Path, Path],
    template_repo: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The CLI and `copier copy --data-file` record identical answers, or both refuse."""
    ours, theirs = twin_infra
    lines = [f"{k}: {json.dumps(v)}" for k, v in SERVICE.items()]
    extra = DATA_FILE_CASES[case]
    keys = {line.split(":", 1)[0] for line in extra.splitlines()}
    text = "\n".join([*(line for line in lines if line.split(":", 1)[0] not in keys), extra])
    data_file = tmp_path / "answers.yml"
    data_file.write_text(text + "\n", encoding="utf-8")
    cli = run_cli(
        _onboard({"infra": ours, "template": template_repo}, "--data-file", str(data_file)), capfd
    )
    copier = _copier_cli(template_repo, theirs / "apps/web", "--data-file", str(data_file))
    _same_outcome(cli, copier, ours, theirs)


@pytest.mark.parametrize("case", sorted(DATA_FLAG_CASES))
def test_data_flags_mean_what_they_mean_to_copier(
    case: str,
    twin_infra: tuple[Path, Path],
    template_repo: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """`--data KEY=VALUE` is cast by the question's type, as `copier copy --data` does."""
    ours, theirs = twin_infra
    base = [f"{k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in SERVICE.items()]
    flags = [item for given in [*base, *DATA_FLAG_CASES[case]] for item in ("--data", given)]
    cli = run_cli(_onboard({"infra": ours, "template": template_repo}, *flags), capfd)
    copier = _copier_cli(template_repo, theirs / "apps/web", *flags)
    _same_outcome(cli, copier, ours, theirs)


# ═══ 4. Unknown keys are refused with a did-you-mean ═════════════════════════════════════════
@pytest.mark.parametrize(
    ("source", "key", "expected"),
    [
        ("--data", "replica", "--data: unknown question 'replica' (did you mean 'replicas'?)"),
        (
            "--data",
            "probe_paht",
            "--data: unknown question 'probe_paht' (did you mean 'probe_path'?)",
        ),
        (
            "--data-file",
            "probe_paht",
            "--data-file: unknown question 'probe_paht' (did you mean 'probe_path'?)",
        ),
        (
            "--data-file",
            "secrets",
            "--data-file: unknown question 'secrets' (did you mean 'secret_keys'?)",
        ),
        ("--data", "zzzz", "--data: unknown question 'zzzz'"),
        ("--data", "_src_path", "--data: '_src_path' is a Copier setting, not a question"),
        ("--data-file", "_copier_python", "--data-file: '_copier_python' is a Copier setting"),
        ("--data", "_commit", "--data: '_commit' is a Copier setting, not a question"),
    ],
)
def test_an_unknown_answer_is_refused_with_a_suggestion(
    source: str,
    key: str,
    expected: str,
    infra_repo: Path,
    template_repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`replica=2` was dropped without a word and the service ran with 1 replica."""
    before = tree_bytes(infra_repo)
    if source == "--data":
        extra = ["--data", f"{key}=2"]
    else:
        extra = ["--data-file", str(write_yaml(tmp_path / "a.yml", {**SERVICE, key: "2"}))]
    code = main(
        _onboard(
            {"infra": infra_repo, "template": template_repo},
            *_web(),
            "--service",
            "web",
            "--clusters",
            "koala",
            *extra,
        )
    )
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"gitops-onboard: error: {expected}"), err
    assert tree_bytes(infra_repo) == before


def test_init_refuses_an_unknown_answer_too(
    template_repo: Path, tmp_path: Path, age_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    destination = tmp_path / "infra"
    code = main(
        [
            "init",
            "--template",
            str(template_repo),
            "--clusters",
            "koala",
            "--age-recipient",
            age_key.public,
            "-d",
            "check_runer=ubuntu-latest",
            str(destination),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == (
        "gitops-onboard: error: --data: unknown question 'check_runer' "
        "(did you mean 'check_runner'?)"
    )
    assert not destination.exists()
