"""`gitops-onboard promote`: move a service's deployed tag from one cluster to others."""

from __future__ import annotations

import argparse
import json
from typing import Any

from generator.commands._common import add_dry_run, add_format_option, add_infra_option, formatter
from generator.infra_root import find_infra_root
from generator.promote import ALL, Promotion, plan_promotion, promote

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard promote web --from koala --to iguana --dry-run
  gitops-onboard promote web --from koala --to all
  git commit -am "$(gitops-onboard promote web --from koala --to all --format json \\
    | jq -r .commit_message)"

exit codes: 0 promoted (or nothing to do), 1 nothing to promote or a damaged overlay,
2 bad usage (a service on one cluster, a cluster the service is not on)
"""


def add_parser(subparsers: Any) -> None:
    """Register `promote`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "promote",
        help="copy a service's deployed tag from one cluster's overlay to others",
        description="Copy the newTag and digest of the service's image from "
        "apps/<service>/clusters/<from>/kustomization.yaml to the overlay of each target "
        "cluster; no other line changes. For a service on several clusters, whose CD deploys "
        "to one of them (deploy_cluster). Prints the commit message to record it with; "
        "commits nothing.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    parser.add_argument("service", help="service name")
    parser.add_argument(
        "--from", dest="source", required=True, metavar="CLUSTER", help="cluster to copy from"
    )
    parser.add_argument(
        "--to",
        required=True,
        metavar="CLUSTER",
        help=f"cluster to copy to, or `{ALL}` for every other cluster of the service",
    )
    add_infra_option(parser)
    add_dry_run(parser, help="print the diff and the commit message, change nothing")
    add_format_option(parser)
    parser.set_defaults(handler=run)


def _json(plan: Promotion, diff: str, dry_run: bool) -> str:
    data = {
        "service": plan.service,
        "image": plan.image,
        "from": plan.source,
        "tag": plan.pin.tag,
        "digest": plan.pin.digest,
        "promoted": list(plan.promoted),
        "unchanged": list(plan.unchanged),
        "files": [str(change.path) for change in plan.changes],
        "commit_message": plan.commit_message if plan.promoted else None,
        "dry_run": dry_run,
        "diff": diff,
    }
    return json.dumps(data, indent=2)


def run(args: argparse.Namespace) -> int:
    """Promote (or show the promotion) and print what changed and the commit message."""
    root = find_infra_root(args.infra)
    if args.dry_run:
        plan = plan_promotion(root, args.service, args.source, args.to)
    else:
        plan = promote(root, args.service, args.source, args.to)
    diff = plan.diff(root)
    if args.format == "json":
        print(_json(plan, diff, args.dry_run))
        return 0
    pinned = plan.pin.describe()
    for cluster in plan.unchanged:
        print(f"{cluster} already runs {plan.service} {pinned}")
    if not plan.promoted:
        print("nothing to do")
        return 0
    verb = "would promote" if args.dry_run else "promoted"
    for cluster in plan.promoted:
        print(f"{verb} {plan.service} {pinned}: {plan.source} → {cluster}")
    if args.dry_run:
        print(diff, end="")
    print(f"commit message: {plan.commit_message}")
    return 0
