"""Field rules shared by Copier's question validators and the typed specs.

Each rule takes a value and returns "" when it holds, or the rule in words when it does not,
so `copier.yml` validators (through the `rule` filter of `generator.jinja_ext`) and
`generator.spec` enforce one definition. The rules live by kind: `common` (service and infra
fields), `infra` (age recipients), `app` (the app repo), `exposure` (a service's exposure
and production extras), `overrides` (what differs by cluster); `generator.ownership` adds
the rule of the files a user takes over.
Rule names are a frozen public API (see `generator.template_api`).
"""

from __future__ import annotations

from collections.abc import Callable

from generator import ownership
from generator.redaction import holds_private_key, redact
from generator.rules import app, common, exposure, infra, overrides
from generator.rules.common import (
    absolute_path,
    control_character,
    dns1035_label,
    dns1123_label,
    env,
    env_name,
    registry,
)

__all__ = [
    "ONE_LINE_RULE",
    "PRIVATE_KEY_RULE",
    "RULES",
    "absolute_path",
    "check",
    "control_character",
    "dns1035_label",
    "dns1123_label",
    "env",
    "env_name",
    "registry",
]

ONE_LINE_RULE = "must be one line without control characters"
PRIVATE_KEY_RULE = (
    "holds an age private key; answers are stored in plain text, so only public keys "
    "(age1...) may appear in them"
)

RULES: dict[str, Callable[[object], str]] = {
    **common.RULES,
    **infra.RULES,
    **app.RULES,
    **exposure.RULES,
    **overrides.RULES,
    **ownership.RULES,
}


def check(value: object, rule: str) -> str:
    """Apply the named rule; used by `copier.yml` validators as `{{ x | rule('port') }}`.

    Every rule also refuses a one-line (string) answer holding a control character or a
    line break, and any answer holding an age private key; the rule's words never show one.
    """
    if isinstance(value, str) and (found := control_character(value)):
        return f"{ONE_LINE_RULE} (found {found})"
    if problem := RULES[rule](value):
        return redact(problem)
    if holds_private_key(value):
        return PRIVATE_KEY_RULE
    return ""
