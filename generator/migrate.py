"""`python -m generator.migrate rename OLD NEW`: the Copier migration step of released templates.

Frozen public API: a template release that names this module in `_migrations` runs it with
the Python of the gitops-onboard installed next to Copier (see `generator.template_api`), so
it keeps its command line. It is a thin shim over the one command line:
`gitops-onboard _migrate rename OLD NEW` (`generator.commands.copier_hooks`), with the same
error handling: bad input exits 2, any other failure 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from generator import cli

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run `gitops-onboard _migrate` with these arguments."""
    return cli.main(["_migrate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
