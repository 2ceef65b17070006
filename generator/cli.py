"""The `gitops-onboard` command line: parses arguments, calls the library, prints.

`main(argv) -> int` is the one place where errors become exit codes: 0 success, 1 a failure
(a tool, a check that found something), 2 bad input (nothing was written). Everything it
prints, usage errors included, passes through `generator.errors.redact`: no age private key
is ever shown (only `keygen`, whose product is one, prints its key on stdout).
"""

from __future__ import annotations

import argparse
import copy as copying
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from generator.errors import OnboardError, exit_code, redact
from generator.redaction import redacted_output, unredacted_stdout

__all__ = ["build_parser", "log_to_stderr", "main", "report_error"]


def report_error(error: OnboardError) -> int:
    """Print `error` as one line on stderr and return its exit code."""
    print(f"gitops-onboard: error: {redact(str(error))}", file=sys.stderr)
    return exit_code(error)


class _StderrLines(logging.Handler):
    """The library's log records as `gitops-onboard: [warning: ]message` lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        level = "warning: " if record.levelno >= logging.WARNING else ""
        print(f"gitops-onboard: {level}{record.getMessage()}", file=sys.stderr)


def log_to_stderr() -> None:
    """Show what the library reports while it works (waiting for a lock, warnings)."""
    logger = logging.getLogger("generator")
    logger.setLevel(logging.INFO)
    if not any(isinstance(handler, _StderrLines) for handler in logger.handlers):
        logger.addHandler(_StderrLines())


class _VersionAction(argparse.Action):
    """`--version`: this tool's version and those of the tools it drives."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="print the versions of gitops-onboard, Copier, sops, kustomize and git",
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from generator.versions import tool_versions

        for name, found in tool_versions().items():
            print(f"{name} {found}")
        parser.exit()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every visible command, or only `command` when one is named.

    A run of one command needs only its own subparser (and its module's imports); `--help`,
    completion and an unknown command word get the whole parser. Copier's hidden commands
    (`_task`, `_migrate`) are never in the whole parser: they are left out of `--help`,
    completion and the reference, as pre-commit's `hook-impl` is.
    """
    from generator.commands import registry

    parser = argparse.ArgumentParser(
        prog="gitops-onboard",
        description="Onboard services onto Flux + SOPS/age + Gitea Actions, and keep every "
        "stamped copy current.",
        epilog="Run `gitops-onboard COMMAND --help` for a command's options and an example.",
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = registry.visible_modules() if command is None else [registry.command_module(command)]
    for module in modules:
        module.add_parser(subparsers)
    parser.set_defaults(root_parser=parser)  # for `completion`, which prints the whole parser
    return parser


def _parser_for(words: list[str]) -> argparse.ArgumentParser:
    """The parser for a command line: only the named command's, where that is enough."""
    from generator.commands import registry

    named = words[0] if words else None
    if named in registry.HIDDEN or (named in registry.VISIBLE and named != "completion"):
        return build_parser(named)
    return build_parser()


def _dry_run(args: argparse.Namespace) -> int:
    """Run the command on copies of the repos it writes and print what it would change."""
    from generator.dryrun import preview
    from generator.infra_root import find_infra_root

    targets: list[tuple[str, Path, Path]] = []  # (option, path given, root copied)
    for option in args.dry_run_paths:
        value = getattr(args, option, None)
        if value is None:
            continue
        given = Path(value).resolve()
        targets.append((option, given, find_infra_root(given) if option == "infra" else given))

    def action(copies: list[Path]) -> int:
        scratch_args = copying.copy(args)
        for (option, given, root), scratch in zip(targets, copies, strict=True):
            setattr(scratch_args, option, scratch / given.relative_to(root))
        if hasattr(scratch_args, "yes"):
            scratch_args.yes = True
        try:
            code: int = scratch_args.handler(scratch_args)
        except OnboardError as error:
            return report_error(error)
        return code

    code, diff, output = preview([root for _, _, root in targets], action)
    if code != 0:
        sys.stderr.write(output)
        return code
    sys.stdout.write(diff or "no changes\n")
    print("dry run: nothing was written", file=sys.stderr)
    return 0


def _stdout_closed() -> int:
    """The reader of our output went away (`| head`): stop quietly, as cat does."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the real standard output, whatever wraps sys.stdout
    return 141  # 128 + SIGPIPE, what a shell reports for a writer killed by the signal


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    with redacted_output():
        try:
            return _main(argv)
        except BrokenPipeError:
            return _stdout_closed()


def _main(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words == ["--version"]:
        # Answered before the commands, and the library behind them, are loaded.
        version_only = argparse.ArgumentParser(prog="gitops-onboard")
        version_only.add_argument("--version", action=_VersionAction)
        version_only.parse_args(words)
    parser = _parser_for(words)
    args = parser.parse_args(words)
    if getattr(args, "prints_private_key", False):
        unredacted_stdout()
    log_to_stderr()
    try:
        if getattr(args, "dry_run", False) and getattr(args, "dry_run_paths", None):
            return _dry_run(args)
        code: int = args.handler(args)
    except OnboardError as error:
        return report_error(error)
    except KeyboardInterrupt:
        print("gitops-onboard: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
