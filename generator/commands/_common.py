"""Argument helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from generator.answers import read_answers
from generator.errors import InputError

__all__ = [
    "add_allow_source_option",
    "add_answer_options",
    "add_dry_run",
    "add_format_option",
    "add_infra_option",
    "collect_answers",
    "confirm",
    "formatter",
]


def formatter(prog: str) -> argparse.HelpFormatter:
    """Keep the examples in epilogs as written."""
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def add_answer_options(parser: argparse.ArgumentParser) -> None:
    """`--data KEY=VALUE`, `--data-file FILE`, `--template`, `--vcs-ref`."""
    parser.add_argument(
        "-d",
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="answer a template question (repeatable); lists and mappings in YAML, "
        "e.g. 'clusters=[koala]' 'env={LOG_LEVEL: \"debug\"}'",
    )
    parser.add_argument(
        "--data-file",
        type=Path,
        metavar="FILE",
        help="YAML file of answers, read as Copier reads it (YAML 1.1: yes/on are true); "
        "--data wins where both answer a question",
    )
    parser.add_argument(
        "--template",
        metavar="SRC",
        help="template git URL or path (default: the one the infra repo was stamped from)",
    )
    parser.add_argument(
        "--vcs-ref", metavar="REF", help="template tag or commit (default: the latest release tag)"
    )


def collect_answers(args: argparse.Namespace) -> dict[str, Any]:
    """`--data-file` and `--data` as Copier reads them: one typed answers mapping."""
    return read_answers(args.data_file, args.data)


def confirm(question: str) -> bool:
    """Ask yes/no on the terminal; refuse to guess when there is none."""
    if not sys.stdin.isatty():
        raise InputError("--yes", "stdin is not a terminal; pass --yes to confirm")
    reply = input(f"{question} [y/N] ").strip().lower()
    return reply in ("y", "yes")


def add_infra_option(parser: argparse.ArgumentParser) -> None:
    """`--infra PATH`: the infra repo a command works in (default: the current folder)."""
    parser.add_argument(
        "--infra", type=Path, default=Path("."), metavar="PATH", help="the infra repo (default: .)"
    )


def add_dry_run(
    parser: argparse.ArgumentParser,
    *path_options: str,
    help: str = "print the diff this would apply and change nothing",
) -> None:
    """`--dry-run`: run on copies of the repos named by `path_options`, print the diff.

    `infra` names a path inside an infra repo (the whole repo is copied); any other option
    names a folder that is copied as it is. A command without `path_options` handles
    `--dry-run` itself and says how in `help`.
    """
    parser.add_argument("--dry-run", action="store_true", help=help)
    parser.set_defaults(dry_run_paths=path_options)


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """`--format text|json`: text for people, json for machines."""
    parser.add_argument(
        "--format", choices=["text", "json"], default="text", help="output format (default: text)"
    )


def add_allow_source_option(parser: argparse.ArgumentParser) -> None:
    """`--allow-source SRC`: run a template the repo's allow-list does not name, this once."""
    parser.add_argument(
        "--allow-source",
        action="append",
        default=[],
        metavar="SRC",
        help="run this template source although the repo's allow-list (.gitops-onboard.yaml) "
        "does not name it, for this run only (repeatable); `gitops-onboard template allow SRC` "
        "records it instead",
    )
