"""Hostile answers: a pasted private key, control characters, YAML 1.1 words, typos.

What the test_input_* modules share: the questions read from copier.yml, answer sets, helpers.

The attacker's tools are the answers themselves: `--data`, `--data-file`, flags, a tampered
answers file, or a plain `copier copy --trust`. What was wrong:

- a private key pasted into an answer was printed back whole in the error (a YAML parse error
  of `age_recipients=[<private key>` with the `]` missing);
- `re.match("^...$")` accepted `"web\\n"`, and fields without a regex took `\\r`, `\\t`, `\\x00`;
- the CLI read `--data-file` as YAML 1.2 while Copier reads YAML 1.1, so `1e3`, `0o17`, `yes`,
  `off` meant different things to each;
- unknown keys (`replica=2`, `probe_paht`) were dropped without a word.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jinja2
import pyrage
import pytest
import yaml

from generator.cli import main
from generator.redaction import identity_prefix
from tests.helpers import PROJECT, git

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
    "service-ingress-cert-manager": {
        "kind": "service",
        **SERVICE,
        "expose": "ingress",
        "hosts": ["web.example.com"],
        "tls": "cert-manager",
        "cluster_issuer": "letsencrypt",
    },
    "service-ingress-tls-secret": {
        "kind": "service",
        **SERVICE,
        "expose": "ingress",
        "hosts": ["web.example.com"],
        "tls": "secret",
        "tls_secret": "web-tls",
    },
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
    body = key[len(identity_prefix()) :].lower()
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


def _init(ctx: dict[str, Any], *extra: str) -> list[str]:
    return ["init", "--template", str(ctx["template"]), str(ctx["tmp"] / "new-infra"), *extra]


def _onboard(ctx: dict[str, Any], *extra: str) -> list[str]:
    return ["onboard", "--infra", str(ctx["infra"]), "--template", str(ctx["template"]), *extra]


def _web(*extra: str) -> tuple[str, ...]:
    return ("-d", "registry=gitea.example.com", "-d", "owner=team", *extra)
