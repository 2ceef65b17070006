"""`gitops-onboard flux enable-decryption`: let Flux decrypt the repo's SOPS secrets."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from generator import clusters, flux
from generator.commands._common import add_dry_run, formatter
from generator.session import writing

__all__ = ["add_parser", "run_enable"]

EXAMPLE = """\
example:
  gitops-onboard flux enable-decryption
  gitops-onboard flux enable-decryption --infra infra/ --cluster koala
"""


def add_parser(subparsers: Any) -> None:
    """Register `flux enable-decryption`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "flux",
        help="Flux settings in the infra repo",
        description="Flux settings in the infra repo.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    sub = parser.add_subparsers(dest="flux_command", metavar="SUBCOMMAND", required=True)
    enable = sub.add_parser(
        "enable-decryption",
        help="add the SOPS decryption block to each cluster's Flux Kustomization",
        description="Find the Flux Kustomization (kustomize.toolkit.fluxcd.io) whose spec.path "
        "is clusters/<cluster>, anywhere in the repo, and add `decryption: {provider: sops, "
        "secretRef: {name: sops-age}}` to its spec. Comments are kept; running it again "
        "changes nothing. Where Flux is not bootstrapped yet, it prints the block to add.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    enable.add_argument(
        "--infra", type=Path, default=Path("."), metavar="PATH", help="the infra repo (default: .)"
    )
    enable.add_argument(
        "--cluster",
        action="append",
        metavar="NAME",
        help="only this cluster (repeatable; default: every cluster)",
    )
    add_dry_run(enable, "infra")
    enable.set_defaults(handler=run_enable)


def run_enable(args: argparse.Namespace) -> int:
    """Add the block where it is missing and report every cluster."""
    root = clusters.find_infra_root(args.infra)
    with writing(root, "gitops-onboard flux enable-decryption"):
        plan = flux.plan_enable(root, args.cluster)
        clusters.apply(plan.changes)
    for cluster, hits in plan.found.items():
        for hit in hits:
            if hit.status == "added":
                print(f"{cluster}: added decryption to Kustomization {hit.name} in {hit.file}")
            else:
                print(
                    f"{cluster}: Kustomization {hit.name} in {hit.file} already decrypts "
                    f"(secretRef {hit.secret_ref})"
                )
    for cluster in plan.missing:
        print(
            f"{cluster}: no Flux Kustomization has spec.path ./clusters/{cluster} yet (Flux not "
            "bootstrapped?). After `flux bootstrap ... --path=clusters/"
            f"{cluster}`, run this again, or add under its spec:\n" + flux.decryption_block("  "),
            end="",
        )
    return 0
