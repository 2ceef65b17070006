"""`gitops-onboard onboard`: stamp `apps/<service>/` and register it in its clusters."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from generator.commands._common import add_answer_options, collect_answers, formatter
from generator.onboard import onboard_service

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard onboard --infra infra/ --service supervisor --clusters koala \\
      --data registry=gitea.d-ma.be --data owner=mathias --data port=3200 \\
      --data 'env={LITELLM_BASE_URL: "http://iguana:4000"}'
  gitops-onboard onboard --data-file answers.yml
"""


def add_parser(subparsers: Any) -> None:
    """Register `onboard`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "onboard",
        help="onboard a service into an infra repo",
        description="Stamp apps/<service>/ in the infra repo with Copier (kind=service) and "
        "add it to the resources of clusters/<c>/kustomization.yaml for each of its clusters. "
        "Answers are the template's questions, as for `copier copy --data`.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    parser.add_argument(
        "--infra", type=Path, default=Path("."), metavar="PATH", help="the infra repo (default: .)"
    )
    parser.add_argument("--service", metavar="NAME", help="service name (same as --data service=)")
    parser.add_argument(
        "--clusters",
        metavar="A,B",
        help="comma-separated clusters (same as --data 'clusters=[a, b]')",
    )
    parser.add_argument(
        "--create-clusters",
        action="store_true",
        help="create clusters/<c>/kustomization.yaml for a cluster that is missing",
    )
    add_answer_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Onboard and print what was made."""
    answers: dict[str, Any] = collect_answers(args)
    if args.service is not None:
        answers["service"] = args.service
    if args.clusters is not None:
        answers["clusters"] = [c.strip() for c in args.clusters.split(",") if c.strip()]
    result = onboard_service(
        args.infra,
        answers,
        args.template,
        vcs_ref=args.vcs_ref,
        create_clusters=args.create_clusters,
    )
    root = result.service_dir.parent.parent
    for path in result.files:
        print(f"created {path.relative_to(root)}")
    for cluster in result.clusters:
        print(f"registered apps/{result.service_dir.name} in clusters/{cluster}/kustomization.yaml")
    return 0
