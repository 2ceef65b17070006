"""Field rules of the infra repo's questions that need its key handling (age recipients).

Each rule takes a value and returns "" when it holds, or the rule in words when it does not.
"""

from __future__ import annotations

from collections.abc import Callable

from generator.age import recipient_problem

__all__ = ["RULES"]


def age_recipients(value: object) -> str:
    """A non-empty list of age public keys (the recipients of the infra repo's secrets)."""
    if not isinstance(value, list) or not value:
        return "must be a non-empty list of age public keys, e.g. [age1...] (gitops-onboard keygen)"
    for number, item in enumerate(value, start=1):
        if problem := recipient_problem(item):
            # Named by position: the entry may be a private key pasted by mistake.
            return f"entry {number}: {problem}"
    if len(set(value)) != len(value):
        return "must not list a key twice"
    return ""


RULES: dict[str, Callable[[object], str]] = {
    "age_recipients": age_recipients,
}
