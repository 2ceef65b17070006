"""Jinja filters that Copier loads for the template (`_jinja_extensions` in copier.yml).

`yaml_str` renders any value as a double-quoted YAML string with a real emitter, so values
such as `yes`, `0755`, `1e3`, `~` or multi-line text stay strings for Kubernetes' YAML 1.1
reader. `rule` runs a `generator.rules` check for a question validator.
"""

from __future__ import annotations

import functools
import io

from jinja2 import Environment
from jinja2.ext import Extension
from ruamel.yaml import YAML

from generator.rules import check

__all__ = ["GitopsExtension", "yaml_str"]


def yaml_str(value: object) -> str:
    """Return `value` as one double-quoted YAML scalar (no trailing newline)."""
    return _quoted("" if value is None else str(value))


@functools.lru_cache(maxsize=8192)
def _quoted(text: str) -> str:
    # Cached: `check` renders every stamped copy, and most values repeat within a copy.
    yaml = YAML(typ="safe", pure=True)
    yaml.default_style = '"'  # type: ignore[assignment]
    yaml.width = 1 << 30
    yaml.allow_unicode = True
    buffer = io.StringIO()
    yaml.dump(text, buffer)
    return buffer.getvalue().rstrip("\n").removesuffix("\n...")


class GitopsExtension(Extension):
    """Registers the `yaml_str` and `rule` filters."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["yaml_str"] = yaml_str
        environment.filters["rule"] = check
