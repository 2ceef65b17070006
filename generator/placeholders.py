"""Values that still hold what onboarding wrote for them: a placeholder, an empty pull secret.

Three sources, best first:

- the decrypted values, when the private key is at hand: a value made by
  `secrets.placeholder`, a `.dockerconfigjson` without any registry in `auths`;
- the `gitops-onboard/placeholders` annotation, which lists those keys in plaintext and is
  kept current by `secrets set`/`unset` and `pull-secret set` (no key needed);
- for a file written before that annotation existed, the ciphertext's length: it equals the
  plaintext's, so a pull secret of 12 bytes is `{"auths":{}}` for sure (no registry fits),
  and a value exactly as long as its placeholder may be one — which only the key can tell.

A real value is never taken for a placeholder: with the key the value itself decides, and
without it the annotation that `secrets set` rewrites in the same command.

Example::

    for problem in placeholder_problems(doc, plain=None):
        print(problem.message, problem.fix)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from generator.pull_secret import CONFIG_KEY, PLACEHOLDER_CONFIG, SECRET_TYPE
from generator.service_secrets import is_placeholder, marked_keys, placeholder
from generator.sopsmeta import enc_length, secret_values

__all__ = ["Problem", "placeholder_problems"]

_MANAGED = ("app.kubernetes.io/managed-by", "gitops-onboard")
_EMPTY_PULL = len(PLACEHOLDER_CONFIG)
# What a value holds: what onboarding wrote, a real value, or (without the key) can't tell.
_State = Literal["placeholder", "set", "maybe"]


@dataclass(frozen=True)
class Problem:
    """One key that still holds what onboarding wrote, and the command that sets it."""

    message: str
    fix: str


def _metadata(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = doc.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _service(doc: Mapping[str, Any]) -> str:
    metadata = _metadata(doc)
    labels = metadata.get("labels")
    if isinstance(labels, Mapping) and labels.get("app.kubernetes.io/name"):
        return str(labels["app.kubernetes.io/name"])
    return str(metadata.get("name", "SERVICE")).removesuffix("-secrets")


def _managed(doc: Mapping[str, Any]) -> bool:
    labels = _metadata(doc).get("labels")
    return isinstance(labels, Mapping) and labels.get(_MANAGED[0]) == _MANAGED[1]


def _no_registry(config: object, section: str) -> bool:
    """True for a `.dockerconfigjson` that names no registry."""
    text = str(config)
    if section == "data":
        try:
            text = base64.b64decode(text, validate=True).decode()
        except (binascii.Error, ValueError):
            return False
    try:
        parsed = json.loads(text)
    except ValueError:
        return False
    return isinstance(parsed, dict) and not parsed.get("auths")


def _pull_problem(doc: Mapping[str, Any], section: str, key: str) -> Problem:
    name = _metadata(doc).get("name", "NAME")
    return Problem(
        f"{section}.{key} holds no registry credentials ({PLACEHOLDER_CONFIG}, the placeholder "
        "onboarding wrote)",
        f"gitops-onboard pull-secret set --name {name} --registry HOST --username USER",
    )


def _value_problem(doc: Mapping[str, Any], section: str, key: str) -> Problem:
    return Problem(
        f"{section}.{key} still holds the placeholder onboarding wrote",
        f"gitops-onboard secrets set {_service(doc)} {key}",
    )


def _maybe_problem(doc: Mapping[str, Any], section: str, key: str) -> Problem:
    service = _service(doc)
    return Problem(
        f"{section}.{key} may still hold the placeholder onboarding wrote (it has the "
        "placeholder's length); without the age private key the check cannot tell",
        "run the check with the key (SOPS_AGE_KEY_FILE=/path/to/keys.txt), or "
        f"`gitops-onboard secrets list {service}` with it, which marks placeholders; "
        f"`gitops-onboard secrets set {service} {key}` sets it",
    )


def placeholder_problems(doc: Mapping[str, Any], plain: Mapping[str, Any] | None) -> list[Problem]:
    """The keys of one encrypted Secret that still hold what onboarding wrote.

    `doc` is the encrypted document; `plain` the same document decrypted, when the key was
    at hand and it decrypted.
    """
    pull = doc.get("type") == SECRET_TYPE
    marked = marked_keys(doc)
    problems = []
    for section, key, value in secret_values(doc):
        is_config = pull and key == CONFIG_KEY
        state = _decrypted(plain, section, key, is_config)
        if state is None and marked is not None:
            state = "placeholder" if key in marked else "set"
        if state is None:
            state = _by_length(doc, section, key, value, is_config)
        if state == "maybe":
            problems.append(_maybe_problem(doc, section, key))
        elif state == "placeholder":
            make = _pull_problem if is_config else _value_problem
            problems.append(make(doc, section, key))
    return problems


def _decrypted(
    plain: Mapping[str, Any] | None, section: str, key: str, is_config: bool
) -> _State | None:
    if plain is None:
        return None
    values = plain.get(section)
    value = values.get(key) if isinstance(values, Mapping) else None
    if is_config:
        empty = _no_registry(value, section)
    else:
        empty = isinstance(value, str) and is_placeholder(value)
    return "placeholder" if empty else "set"


def _by_length(
    doc: Mapping[str, Any], section: str, key: str, value: object, is_config: bool
) -> _State | None:
    length = enc_length(value)
    if length is None:
        return None
    if is_config:
        # No config that names a registry is as short as {"auths":{}}.
        limit = (
            _EMPTY_PULL if section == "stringData" else len(base64.b64encode(b"x" * _EMPTY_PULL))
        )
        return "placeholder" if length <= limit else "set"
    if section == "stringData" and _managed(doc):
        expected = len(placeholder(_service(doc), key).encode())
        return "maybe" if length == expected else "set"
    return None
