r"""Quoting for values written into a Dockerfile (Jinja filters of the app template).

Dockerfile instructions have their own escaping: `ENV` values are double-quoted with `\`,
`"` and `$` escaped (BuildKit would otherwise expand `$VAR` at build time), and exec-form
instructions (`ENTRYPOINT`, `VOLUME`) are JSON arrays.

Example::

    env_value('a$b "c"')               # "a\$b \"c\"" (with the quotes)
    exec_form(["/usr/local/bin/web"])  # ["/usr/local/bin/web"]
"""

from __future__ import annotations

import json

__all__ = ["env_value", "exec_form"]


def env_value(value: object) -> str:
    """`value` as a double-quoted Dockerfile `ENV` value, taken literally by BuildKit."""
    text = "" if value is None else str(value)
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def exec_form(value: object) -> str:
    """A list of arguments as a Dockerfile exec-form JSON array."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return json.dumps([str(item) for item in items], ensure_ascii=False)
