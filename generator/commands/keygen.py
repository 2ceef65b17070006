"""`gitops-onboard keygen`: an age key pair for the infra repo's secrets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from generator import age
from generator.commands._common import add_dry_run, formatter

__all__ = ["add_parser", "run"]

EXAMPLE = """\
example:
  gitops-onboard keygen | kubectl apply -f -
  gitops-onboard keygen --out ~/secure/infra-age.txt --secret-manifest /dev/shm/sops-age.yaml
"""


def add_parser(subparsers: Any) -> None:
    """Register `keygen`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keygen",
        help="make an age key pair and the sops-age Secret Flux decrypts with",
        description="Make an age key pair. The private key goes to a new file with mode 0600 "
        "(default: where sops looks for it); the Kubernetes Secret sops-age for namespace "
        "flux-system (key age.agekey) is printed on stdout, ready for `kubectl apply -f -`, "
        "or written with --secret-manifest. The public key goes into the infra repo "
        "(age_recipients). An existing key file is never overwritten.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="private key file to create (default: where sops looks, "
        "$XDG_CONFIG_HOME/sops/age/keys.txt, usually ~/.config/sops/age/keys.txt)",
    )
    parser.add_argument(
        "--secret-manifest",
        type=Path,
        metavar="PATH",
        help="write the sops-age Secret to this new file (mode 0600) instead of stdout, and "
        "print only the public key",
    )
    add_dry_run(
        parser, help="say which files would be created (no key is generated) and change nothing"
    )
    # Its stdout is the sops-age Secret, private key included; only it is not redacted.
    parser.set_defaults(handler=run, prints_private_key=True)


def run(args: argparse.Namespace) -> int:
    """Make the key pair and write or print what Flux needs."""
    out: Path = (args.out if args.out is not None else age.default_key_file()).expanduser()
    manifest_path: Path | None = args.secret_manifest
    age.refuse_existing(out, "--out")
    if manifest_path is not None:
        manifest_path = manifest_path.expanduser()
        age.refuse_existing(manifest_path, "--secret-manifest")
    if args.dry_run:
        print(f"would create {out} (mode 0600): a new age private key")
        if manifest_path is not None:
            print(f"would create {manifest_path} (mode 0600): the sops-age Secret")
        print("dry run: nothing was written", file=sys.stderr)
        return 0
    pair = age.generate()
    age.write_key_file(out, pair.key_file_text)
    print(f"wrote the age private key to {out} (mode 0600); keep it out of git", file=sys.stderr)
    print(f"public key: {pair.public}", file=sys.stderr)
    manifest = age.flux_secret_manifest(pair)
    if manifest_path is None:
        sys.stdout.write(manifest)
        return 0
    age.write_key_file(manifest_path, manifest, "--secret-manifest")
    print(f"wrote the sops-age Secret to {manifest_path} (mode 0600)", file=sys.stderr)
    print(pair.public)
    return 0
