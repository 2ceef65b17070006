"""Who owns each file of a stamped copy: the template, the user, or CD.

The one place `check` (and anything else that compares or rewrites stamped files) reads
ownership from:

- the template owns every file it renders, unless the user owns it;
- the user owns a service's own Component (`local/` in `apps/<service>/`, stamped once) and
  the app files listed in the app's `user_owned` answer; `copier update` leaves them alone
  (`_skip_if_exists` in `copier.yml`) and `check` does not compare them with the template;
- CD owns the `newTag` of each `images:` entry of a kustomization (see `generator.check.drift`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any

__all__ = ["LOCAL_COMPONENT", "RULES", "USER_OWNABLE", "is_user_owned", "legitimate_ways"]

LOCAL_COMPONENT = "local"
# The app files a user may take over. The CD workflow is not one of them: it carries the
# pinned actions and the check itself, which every update must be able to fix.
USER_OWNABLE = ("Dockerfile", ".dockerignore")


def user_owned_rule(value: object) -> str:
    """The `user_owned` answer: a list of app files the user takes over."""
    if value is None:
        return ""
    if not isinstance(value, list) or any(item not in USER_OWNABLE for item in value):
        return f"must be a list of files among {', '.join(USER_OWNABLE)}"
    if len(set(value)) != len(value):
        return "must not list a file twice"
    return ""


RULES: dict[str, Callable[[object], str]] = {"user_owned": user_owned_rule}


def is_user_owned(kind: str, answers: Mapping[str, Any], relative: str) -> bool:
    """True when the file at `relative` (POSIX, in the copy's folder) belongs to the user."""
    parts = PurePosixPath(relative).parts
    if kind == "service":
        return bool(parts) and parts[0] == LOCAL_COMPONENT
    if kind == "app":
        owned = answers.get("user_owned") or []
        return isinstance(owned, list) and relative in owned
    return False


def legitimate_ways(kind: str, relative: str) -> str:
    """How to make a hand edit of the template's file at `relative` legitimate."""
    if kind == "service":
        return (
            "make it an answer (copier update --trust --data NAME=VALUE), or move it into the "
            f"service's own Component {LOCAL_COMPONENT}/ (a new resource, or a patch of the "
            "template's object), which check never compares"
        )
    if kind == "app" and relative in USER_OWNABLE:
        return (
            "make it an answer, or take the file over: copier update --trust --data "
            f"'user_owned=[{relative}]' (check then no longer compares it, and updates leave it "
            "alone)"
        )
    return "make it an answer, or a template change"
