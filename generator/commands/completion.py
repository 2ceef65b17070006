"""`gitops-onboard completion`: print a shell completion script."""

from __future__ import annotations

import argparse
from typing import Any

from generator.commands._common import formatter

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard completion bash > ~/.local/share/bash-completion/completions/gitops-onboard
  gitops-onboard completion zsh > "${fpath[1]}/_gitops-onboard"
"""


def add_parser(subparsers: Any) -> None:
    """Register `completion`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "completion",
        help="print a bash or zsh completion script",
        description="Print a completion script for bash or zsh on stdout.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    parser.add_argument("shell", choices=["bash", "zsh"], help="the shell to complete for")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the script for the whole parser (`root_parser`, set by `generator.cli`)."""
    import shtab  # not needed for --help

    print(shtab.complete(args.root_parser, shell=args.shell))
    return 0
