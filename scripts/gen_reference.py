"""Generate docs/reference/questions.md and docs/reference/cli.md.

    python scripts/gen_reference.py          # write the pages
    python scripts/gen_reference.py --check  # exit 1 when a page is out of date

The pages come from `copier.yml` and the CLI's argparse definitions, so a question or an
option cannot go undocumented: `tests/story/test_docs.py` runs the check.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import jinja2
import yaml

from generator import rules
from generator.cli import build_parser

PROJECT = Path(__file__).resolve().parent.parent
PAGES = PROJECT / "docs" / "reference"
KINDS = ("infra", "service", "app")


def _questions() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((PROJECT / "copier.yml").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _asked_for(question: dict[str, Any], answers: dict[str, Any]) -> list[str]:
    when = question.get("when", True)
    if when is True:
        return list(KINDS)
    env = jinja2.Environment()
    kinds = []
    for kind in KINDS:
        for volume in ("none", "hostPath", "pvc"):
            context = {**answers, "kind": kind, "volume_type": volume}
            if env.from_string(str(when)).render(context).strip().lower() == "true":
                kinds.append(kind)
                break
    return kinds


def _rule(question: dict[str, Any]) -> str:
    match = re.search(r"rule\('([a-z0-9_]+)'\)", str(question.get("validator", "")))
    if not match:
        choices = question.get("choices")
        if choices:
            values = choices.values() if isinstance(choices, dict) else choices
            return "one of " + ", ".join(f"`{v}`" for v in values)
        return ""
    return rules.RULES[match.group(1)](object())


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return _prose(text.replace("|", "\\|").replace("\n", " "))


def _prose(text: str) -> str:
    """Markdown-safe prose: `<placeholder>` outside code spans would vanish as an HTML tag."""
    parts = text.split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))


def questions_page() -> str:
    lines = [
        "# Template questions",
        "",
        "Generated from `copier.yml` by `scripts/gen_reference.py`; do not edit by hand.",
        "Answer them with `copier copy --data NAME=VALUE`, `--data-file`, interactively, or",
        "with `gitops-onboard onboard --data NAME=VALUE`.",
        "",
        "Besides its rule, every answer of type `str` must be one line without control",
        "characters (no `\\n`, `\\r`, tab or NUL), and no answer may hold an age private key.",
        "The CLI reads `--data-file` as Copier does, as YAML 1.1 (`yes`/`on` are true, `1e3`",
        "and `0o17` are text, `010` is eight), and refuses a name that is not a question",
        "(a name starting with `_` is a Copier setting: the template and the answers file set",
        "those, never an answer).",
        "",
    ]
    for name, question in _questions().items():
        default = question.get("default")
        if default is None:
            shown = "none (required)"
        else:
            shown = f"`{default}`" if default != "" else '`""` (empty)'
        lines += [
            f"## `{name}`",
            "",
            _prose(str(question.get("help", ""))),
            "",
            f"- type: {question.get('type', 'str')}; default: {shown}",
            f"- asked for: {', '.join(_asked_for(question, {})) or 'never'}",
        ]
        if rule := _rule(question):
            lines.append(f"- rule: {_prose(rule)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            named: dict[str, argparse.ArgumentParser] = {}
            for name, sub in action.choices.items():
                if all(sub is not other for other in named.values()):  # aliases once
                    named[name] = sub
            return named
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest}`"
        if action.metavar and action.option_strings:
            names += f" `{action.metavar}`"
        default = action.default
        hidden = default in (None, False, [], argparse.SUPPRESS) or "default" in (action.help or "")
        shown = "" if hidden else f" (default: `{default}`)"
        rows.append(f"| {names} | {_cell(action.help)}{_cell(shown)} |")
    return rows


def _command_section(path: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    lines = [f"{'#' * level} `{path}`", ""]
    if parser.description:
        lines += [_prose(parser.description), ""]
    options = _options(parser)
    if options:
        lines += ["| option | meaning |", "|---|---|", *options, ""]
    if parser.epilog:
        lines += ["```", parser.epilog.strip(), "```", ""]
    for name, sub in _subparsers(parser).items():
        lines += _command_section(f"{path} {name}", sub, min(level + 1, 4))
    return lines


def cli_page() -> str:
    parser = build_parser()
    lines = [
        "# Command line",
        "",
        "Generated from the argument parser by `scripts/gen_reference.py`; do not edit by hand.",
        "Exit codes: 0 success, 1 a failure or a finding, 2 bad input (nothing written).",
        "",
    ]
    for name, sub in _subparsers(parser).items():
        lines += _command_section(f"gitops-onboard {name}", sub, 2)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    check = "--check" in sys.argv[1:]
    pages = {PAGES / "questions.md": questions_page(), PAGES / "cli.md": cli_page()}
    stale = []
    for path, text in pages.items():
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.relative_to(PROJECT).as_posix())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(
            f"out of date: {', '.join(stale)}; run python scripts/gen_reference.py", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
