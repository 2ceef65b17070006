"""Copier's scratch renders: the old and new template versions `copier update` renders aside.

During an update Copier renders the old and the new version into temporary folders named
`copier._main.old_copy.*` and `copier._main.new_copy.*` (`copier.main.*` in older Copier releases)
and diffs them; it runs the template's tasks there too. The template's task and migrations
must never touch a real repo from such a folder, and the template skips its task there
(`when:` in `copier.yml`, through the `copier_scratch_render` filter), so no Python process
starts only to do nothing.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePath

__all__ = ["in_copier_scratch_render"]

_SCRATCH = re.compile(r"^copier\.(_?main)\.(old|new)_copy\.")


def in_copier_scratch_render(folder: object) -> bool:
    """True for a folder inside one of Copier's temporary old/new renders of an update.

    `folder` is a path or its text; a relative one is taken from the current folder.
    """
    path = PurePath(str(folder))
    if not path.is_absolute():
        path = Path(path).absolute()
    return any(_SCRATCH.match(part) for part in path.parts)
