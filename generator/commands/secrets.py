"""`gitops-onboard secrets set|list|unset|audit`: a service's encrypted values."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml.error import YAMLError

from generator import audit, infra_root, sops
from generator import service_secrets as secret_files
from generator.answers import ANSWERS_FILE, load_answers
from generator.commands._common import add_dry_run, add_format_option, add_infra_option, formatter
from generator.commands._secret_sources import read_secret
from generator.errors import OnboardError
from generator.spec import ServiceSpec

__all__ = ["add_parser", "run_audit", "run_list", "run_set", "run_unset"]

EXAMPLE = """\
example:
  printf '%s' "$ANTHROPIC_API_KEY" | gitops-onboard secrets set supervisor ANTHROPIC_API_KEY
  gitops-onboard secrets set supervisor LITELLM_API_KEY        # asks, input hidden
  gitops-onboard secrets list supervisor
  gitops-onboard secrets unset supervisor OLD_TOKEN
  gitops-onboard secrets audit
"""


def _infra(parser: argparse.ArgumentParser) -> None:
    add_infra_option(parser)


def add_parser(subparsers: Any) -> None:
    """Register `secrets` and its subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "secrets",
        help="set, list or remove a service's encrypted secret values; audit the repo",
        description="Work on apps/<service>/secrets.enc.yaml with sops. Setting, listing with "
        "placeholders and removing values need the age private key (SOPS_AGE_KEY_FILE or "
        "SOPS_AGE_KEY); values are read from stdin or a hidden prompt, never from arguments.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    sub = parser.add_subparsers(dest="secrets_command", metavar="SUBCOMMAND", required=True)

    set_parser = sub.add_parser(
        "set",
        help="set one value (from stdin, else a hidden prompt)",
        description="Set KEY of the service's Secret through `sops set --value-stdin`. The value "
        "is all of stdin when stdin is not a terminal (one trailing newline dropped), else it "
        "is asked for without echo. An unchanged value leaves the file byte-identical.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    set_parser.add_argument("service", help="service name (apps/<service>)")
    set_parser.add_argument("key", metavar="KEY", help="environment variable name")
    set_parser.add_argument(
        "--keep-trailing-newline",
        action="store_true",
        help="keep a trailing newline read from stdin (e.g. for a PEM file)",
    )
    _infra(set_parser)
    add_dry_run(set_parser, "infra")
    set_parser.set_defaults(handler=run_set)

    list_parser = sub.add_parser(
        "list",
        help="list key names, never values",
        description="List the keys of the service's Secret. Names are readable without a key; "
        "with the private key at hand, keys still holding a placeholder are marked.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    list_parser.add_argument("service", help="service name (apps/<service>)")
    _infra(list_parser)
    add_format_option(list_parser)
    list_parser.set_defaults(handler=run_list)

    unset_parser = sub.add_parser(
        "unset",
        help="remove one key",
        description="Remove KEY from the service's Secret (sops unset).",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    unset_parser.add_argument("service", help="service name (apps/<service>)")
    unset_parser.add_argument("key", metavar="KEY", help="environment variable name")
    _infra(unset_parser)
    add_dry_run(unset_parser, "infra")
    unset_parser.set_defaults(handler=run_unset)

    audit_parser = sub.add_parser(
        "audit",
        help="fail on any plaintext, damaged or unfinished Secret",
        description="Exit 1 when a kind: Secret document has values but no sops metadata, a "
        "*.enc.yaml is not encrypted, an encrypted Secret is not shaped as sops writes it "
        "(values, sops block, age stanzas), a value still holds the placeholder onboarding "
        "wrote or a pull secret has no credentials, or an encrypted Secret would fail `sops "
        "decrypt` after a kustomize build. Needs no key; with a private key for a file at "
        "hand, the file is also decrypted in memory and every value, MAC or stanza that does "
        "not decrypt is named.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    audit_parser.add_argument(
        "path", type=Path, nargs="?", default=Path("."), help="folder to audit (default: .)"
    )
    add_format_option(audit_parser)
    audit_parser.set_defaults(handler=run_audit)


def _declared(root: Path, service: str) -> tuple[str, ...]:
    answers = root / "apps" / service / ANSWERS_FILE
    if not answers.is_file():
        return ()
    try:
        return ServiceSpec.from_answers(load_answers(answers)).secret_keys
    except (OnboardError, YAMLError):  # a broken answers file must not block editing a secret
        return ()


def run_set(args: argparse.Namespace) -> int:
    """Set one value."""
    root = infra_root.find_infra_root(args.infra)
    secret_files.secrets_path(root, args.service)  # fail before asking for the value
    value = read_secret(f"value of {args.key}", keep_newline=args.keep_trailing_newline)
    outcome = secret_files.set_secret(root, args.service, args.key, value)
    print(f"{args.service} {args.key}: {outcome}")
    if args.key not in _declared(root, args.service):
        print(
            f"note: {args.key} is not in secret_keys of apps/{args.service}; it still reaches "
            "the pod through envFrom",
            file=sys.stderr,
        )
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print key names, marking placeholders when the private key is at hand."""
    root = infra_root.find_infra_root(args.infra)
    path = secret_files.secrets_path(root, args.service)
    names = secret_files.key_names(path.read_text(encoding="utf-8"), path.name)
    try:
        pending = set(secret_files.pending_keys(root, args.service))
    except sops.SopsError as error:
        if error.reason not in ("no-private-key", "wrong-key"):
            raise
        pending = set()
        why = (
            "no age private key at hand"
            if error.reason == "no-private-key"
            else "the age private key at hand is not one of its recipients"
        )
        print(f"note: {why}; placeholders are not marked", file=sys.stderr)
    declared = _declared(root, args.service)
    if args.format == "json":
        rows = [
            {
                "name": name,
                "placeholder": name in pending,
                "declared": name in declared,
                "present": name in names,
            }
            for name in [*names, *(d for d in declared if d not in names)]
        ]
        print(json.dumps(rows, indent=2))
        return 0
    for name in names:
        marks = []
        if name in pending:
            marks.append("placeholder: set it with `gitops-onboard secrets set`")
        if declared and name not in declared:
            marks.append("not in secret_keys")
        print(f"{name}  ({'; '.join(marks)})" if marks else name)
    for name in declared:
        if name not in names:
            print(f"{name}  (declared in secret_keys but missing)")
    return 0


def run_unset(args: argparse.Namespace) -> int:
    """Remove one key."""
    root = infra_root.find_infra_root(args.infra)
    removed = secret_files.unset_secret(root, args.service, args.key)
    print(f"{args.service} {args.key}: {'removed' if removed else 'was not set'}")
    if removed and args.key in _declared(root, args.service):
        print(f"note: {args.key} is still declared in secret_keys", file=sys.stderr)
    return 0


def run_audit(args: argparse.Namespace) -> int:
    """Print every finding; exit 1 when there is one."""
    findings = audit.audit(args.path)
    if args.format == "json":
        rows = [{"file": f.file, "problem": f.problem, "fix": f.fix} for f in findings]
        print(json.dumps(rows, indent=2))
        return 1 if findings else 0
    for finding in findings:
        print(finding)
    if findings:
        print(f"secrets audit: {len(findings)} problem(s)", file=sys.stderr)
        return 1
    print("secrets audit: every Secret is encrypted")
    return 0
