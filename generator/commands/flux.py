"""`gitops-onboard flux enable-decryption`: let Flux decrypt the repo's SOPS secrets."""

from __future__ import annotations

import argparse
from typing import Any

from generator import flux, fluxpatch, infra_root, transaction
from generator.age import FLUX_SECRET_NAME
from generator.commands._common import add_dry_run, add_infra_option, formatter
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
        "is clusters/<cluster>, anywhere in the repo, and give it `decryption: {provider: "
        "sops, secretRef: {name: sops-age}}`. In gotk-sync.yaml, which flux bootstrap "
        "rewrites, this is a patch in the kustomization.yaml beside it (Flux's bootstrap "
        "customisation), and a block an earlier release put into gotk-sync.yaml is moved "
        "there; a Kustomization you wrote yourself gets the block under its spec. Comments "
        "are kept; running it again changes nothing. Where Flux is not bootstrapped yet, it "
        "prints the patch to add.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    add_infra_option(enable)
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
    root = infra_root.find_infra_root(args.infra)
    with writing(root, "gitops-onboard flux enable-decryption"):
        plan = flux.plan_enable(root, args.cluster)
        transaction.apply(plan.changes)
    for cluster, hits in plan.found.items():
        for hit in hits:
            print(f"{cluster}: {_outcome(hit)}")
    for cluster in plan.missing:
        print(
            f"{cluster}: no Flux Kustomization has spec.path ./clusters/{cluster} yet (Flux not "
            f"bootstrapped?). After `flux bootstrap ... --path=clusters/{cluster}`, run this "
            f"again; or first write clusters/{cluster}/flux-system/kustomization.yaml with "
            "Flux's bootstrap customisation:\n"
            + f"patches:\n{fluxpatch.patch_entry('flux-system', FLUX_SECRET_NAME)}",
            end="",
        )
    return 0


def _outcome(hit: flux.Found) -> str:
    if hit.status == "moved":
        return (
            f"moved the decryption of Kustomization {hit.name} out of {hit.file} (flux "
            f"bootstrap rewrites it) into a patch in {hit.patch_file}"
        )
    if hit.status == "added" and hit.patch_file:
        return f"added a decryption patch for Kustomization {hit.name} in {hit.patch_file}"
    if hit.status == "added":
        return f"added decryption to Kustomization {hit.name} in {hit.file}"
    where = f", patched in {hit.patch_file}" if hit.patch_file else ""
    return (
        f"Kustomization {hit.name} in {hit.file} already decrypts (secretRef {hit.secret_ref}"
        f"{where})"
    )
