"""`gitops-onboard pull-secret set`: the registry credentials every service pulls with."""

from __future__ import annotations

import argparse
from typing import Any

from generator import infra_root, pull_secret
from generator.commands._common import add_dry_run, add_infra_option, formatter
from generator.commands._secret_sources import read_secret

__all__ = ["add_parser", "run_set"]

EXAMPLE = """\
example:
  printf '%s' "$REGISTRY_TOKEN" | gitops-onboard pull-secret set \\
      --registry gitea.d-ma.be --username mathias --name gitea-registry
  gitops-onboard pull-secret set --registry gitea.example.com --username ci   # asks, hidden
"""


def add_parser(subparsers: Any) -> None:
    """Register `pull-secret` and `pull-secret set`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pull-secret",
        help="set the shared registry pull secret",
        description="pull-secrets/<name>/ holds one namespace-less, SOPS-encrypted "
        "kubernetes.io/dockerconfigjson Secret; every service whose image_pull_secret is "
        "<name> gets a copy in its own namespace.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    sub = parser.add_subparsers(dest="pull_secret_command", metavar="SUBCOMMAND", required=True)
    set_parser = sub.add_parser(
        "set",
        help="encrypt the registry token (from stdin, else a hidden prompt)",
        description="Write pull-secrets/<name>/secret.enc.yaml for one registry. The token is "
        "read from stdin when stdin is not a terminal, else asked for without echo. Needs only "
        "the public keys of .sops.yaml.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    set_parser.add_argument("--registry", required=True, metavar="HOST", help="registry host")
    set_parser.add_argument("--username", required=True, metavar="USER", help="registry user")
    set_parser.add_argument(
        "--name",
        default="registry-credentials",
        metavar="NAME",
        help="Secret name, as the services' image_pull_secret answer (default: %(default)s)",
    )
    add_infra_option(set_parser)
    add_dry_run(set_parser, "infra")
    set_parser.set_defaults(handler=run_set)


def run_set(args: argparse.Namespace) -> int:
    """Read the token and write the encrypted pull secret."""
    root = infra_root.find_infra_root(args.infra)
    token = read_secret(f"token for {args.username}@{args.registry}")
    outcome = pull_secret.set_credentials(root, args.name, args.registry, args.username, token)
    where = (pull_secret.folder(root, args.name) / pull_secret.SECRET_FILE).relative_to(root)
    print(f"{where}: {outcome} ({args.username}@{args.registry})")
    return 0
