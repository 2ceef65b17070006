"""`gitops-onboard onboard`: stamp `apps/<service>/`, register it, optionally stamp the app."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from generator.commands._common import (
    add_allow_source_option,
    add_answer_options,
    add_dry_run,
    add_infra_option,
    collect_answers,
    formatter,
)
from generator.commands._secret_sources import (
    prompt_values,
    read_values,
    stdin_is_terminal,
    values_from_env,
)
from generator.errors import InputError
from generator.onboard import Onboarded, onboard_service, onboard_with_app
from generator.recovery import resume_service
from generator.spec import ServiceSpec

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard onboard --infra infra/ --service supervisor --clusters koala \\
      --data registry=gitea.d-ma.be --data owner=mathias --data port=3200 \\
      --data 'env={LITELLM_BASE_URL: "http://iguana:4000"}'
  gitops-onboard onboard --data-file answers.yml
  gitops-onboard onboard --infra infra/ --app-repo ../supervisor --data-file answers.yml \\
      --data language=go --data infra_repo=git@gitea.d-ma.be:mathias/infra.git \\
      --data infra_ssh_host=127.0.0.1 --data infra_ssh_port=30022
  gitops-onboard onboard --infra infra/ --resume supervisor   # finish an interrupted one
"""


def add_parser(subparsers: Any) -> None:
    """Register `onboard`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "onboard",
        help="onboard a service into an infra repo",
        description="Stamp apps/<service>/ in the infra repo with Copier (kind=service) and "
        "add it to the resources of clusters/<c>/kustomization.yaml for each of its clusters. "
        "With --app-repo, also stamp the app repo (kind=app: Dockerfile, .dockerignore, "
        ".gitea/workflows/cd.yml); both sides are validated before either is written. "
        "Answers are the template's questions, as for `copier copy --data`.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    add_infra_option(parser)
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
    parser.add_argument(
        "--app-repo",
        type=Path,
        metavar="PATH",
        help="also stamp this app repo (needs language and infra_repo answers)",
    )
    parser.add_argument(
        "--resume",
        metavar="SERVICE",
        help="finish the interrupted onboarding of SERVICE with the answers it recorded "
        "(`gitops-onboard offboard SERVICE` undoes it instead); takes no answers",
    )
    add_answer_options(parser)
    add_allow_source_option(parser)
    secrets_group = parser.add_argument_group(
        "secret values",
        "Values of the service's secret_keys, encrypted into apps/<service>/secrets.enc.yaml "
        "with the public keys of .sops.yaml. Never pass them as arguments. Without a source, "
        "a terminal asks for each (input hidden); keys left without a value get a placeholder.",
    )
    secrets_group.add_argument(
        "--secrets-from",
        metavar="FILE",
        help="YAML, JSON or dotenv mapping of KEY to value; '-' reads stdin",
    )
    secrets_group.add_argument(
        "--secrets-from-env",
        action="store_true",
        help="take each secret key from the environment variable of the same name",
    )
    add_dry_run(parser, "infra", "app_repo")
    parser.set_defaults(handler=run)


def _secret_values(args: argparse.Namespace, answers: dict[str, Any]) -> dict[str, str]:
    """Gather the values before anything is written (never from argv)."""
    keys = ServiceSpec.from_answers({**answers, "kind": "service"}).secret_keys
    values: dict[str, str] = {}
    if args.secrets_from is not None:
        values.update(read_values(args.secrets_from))
    if args.secrets_from_env:
        values.update({k: v for k, v in values_from_env(keys).items() if k not in values})
    if keys and args.secrets_from is None and not args.secrets_from_env and stdin_is_terminal():
        values.update(prompt_values(keys, str(answers.get("service", ""))))
    return values


def _resume(args: argparse.Namespace) -> Onboarded:
    given = [
        flag
        for flag, value in (
            ("--service", args.service),
            ("--clusters", args.clusters),
            ("--data", args.data),
            ("--data-file", args.data_file),
            ("--template", args.template),
            ("--vcs-ref", args.vcs_ref),
            ("--app-repo", args.app_repo),
            ("--secrets-from", args.secrets_from),
            ("--secrets-from-env", args.secrets_from_env),
            ("--create-clusters", args.create_clusters),
        )
        if value
    ]
    if given:
        raise InputError(
            "--resume", f"takes no answers, they are recorded; drop {', '.join(given)}"
        )
    return resume_service(args.infra, args.resume)


def run(args: argparse.Namespace) -> int:
    """Onboard (or finish an interrupted onboarding) and print what was made."""
    app_files: list[Path] = []
    if args.resume is not None:
        result = _resume(args)
    else:
        answers: dict[str, Any] = collect_answers(args)
        if args.service is not None:
            answers["service"] = args.service
        if args.clusters is not None:
            answers["clusters"] = [c.strip() for c in args.clusters.split(",") if c.strip()]
        secret_values = _secret_values(args, answers)
        if args.app_repo is not None:
            result, app_files = onboard_with_app(
                args.infra,
                args.app_repo,
                answers,
                args.template,
                vcs_ref=args.vcs_ref,
                create_clusters=args.create_clusters,
                secret_values=secret_values,
                allow_sources=args.allow_source,
            )
        else:
            result = onboard_service(
                args.infra,
                answers,
                args.template,
                vcs_ref=args.vcs_ref,
                create_clusters=args.create_clusters,
                secret_values=secret_values,
                allow_sources=args.allow_source,
            )
    root = result.service_dir.parent.parent
    for path in result.files:
        print(f"created {path.relative_to(root)}")
    for cluster in result.clusters:
        print(f"registered apps/{result.service_dir.name} in clusters/{cluster}/kustomization.yaml")
    if result.placeholders:
        name = result.service_dir.name
        print(
            f"still to set (placeholders now): {', '.join(result.placeholders)}; run "
            f"`gitops-onboard secrets set {name} KEY` for each (value on stdin)"
        )
    for note in result.notes:
        print(note)
    for path in app_files:
        print(f"created {path} (app repo)")
    return 0
