"""Surgical edits of `.sops.yaml`: pure `text -> text` functions.

Only the recipient lines change; comments, key order and the other rule options survive byte
for byte, and an edit that changes nothing returns the input unchanged. Every creation rule
that has `age` recipients is edited, whether they are written as a YAML list (the template's
style), a flow list or a comma-separated string.

Example::

    text = add_recipient(text, "age1...")      # idempotent
    text = remove_recipient(text, "age1...")   # refuses to leave a rule without recipients
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from generator.errors import InputError
from generator.yamltext import new_yaml

__all__ = [
    "add_recipient",
    "age_rules",
    "enc_rule_problems",
    "recipients",
    "remove_recipient",
    "sync_answers",
]

WHERE = ".sops.yaml"


def _load(text: str, where: str) -> Any:
    try:
        return new_yaml("rt").load(text)
    except YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InputError(where, f"must be valid YAML ({problem})") from error


def _rules(text: str, where: str) -> list[CommentedMap]:
    doc = _load(text, where)
    rules = doc.get("creation_rules") if isinstance(doc, CommentedMap) else None
    if not isinstance(rules, CommentedSeq) or not all(isinstance(r, CommentedMap) for r in rules):
        raise InputError(where, "must have creation_rules: a list of rules")
    return list(rules)


def _split(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return [str(item).strip() for item in value]
    return []


def age_rules(text: str, where: str = WHERE) -> list[list[str]]:
    """The age recipients of each creation rule that has any, in file order."""
    return [_split(rule["age"]) for rule in _rules(text, where) if "age" in rule]


def recipients(text: str, where: str = WHERE) -> list[str]:
    """Every age recipient named in `.sops.yaml`, each once, in order of appearance."""
    seen: list[str] = []
    for keys in age_rules(text, where):
        seen.extend(key for key in keys if key not in seen)
    return seen


def enc_rule_problems(text: str, filename: str = "x.enc.yaml", where: str = WHERE) -> list[str]:
    """What the first rule matching `filename` lacks for Flux-built Secrets (empty when fine)."""
    for rule in _rules(text, where):
        pattern = rule.get("path_regex")
        if pattern is not None and not re.search(str(pattern), filename):
            continue
        problems = []
        if str(rule.get("encrypted_regex", "")) != "^(data|stringData)$":
            problems.append("encrypted_regex must be ^(data|stringData)$")
        if rule.get("mac_only_encrypted") is not True:
            problems.append("mac_only_encrypted must be true")
        if not _split(rule.get("age")):
            problems.append("age must list at least one recipient")
        return problems
    return [f"no creation rule matches {filename}"]


def _newline(lines: list[str]) -> str:
    return "\r\n" if lines and lines[0].endswith("\r\n") else "\n"


def _edit(text: str, where: str, change: Callable[[list[str]], list[str]]) -> str:
    """Apply `change` to the recipient list of every rule with `age`, splicing lines."""
    rules = _rules(text, where)
    lines = text.splitlines(keepends=True)
    newline = _newline(lines)
    # Edit bottom-up so earlier line numbers stay valid.
    for number, rule in reversed(list(enumerate(rules, start=1))):
        if "age" not in rule:
            continue
        old = _split(rule["age"])
        new = change(old)
        if new == old:
            continue
        if not new:
            raise InputError(
                where,
                f"creation rule {number} would have no age recipient left; add another first",
            )
        value = rule["age"]
        if isinstance(value, CommentedSeq) and not value.fa.flow_style() and len(value):
            _splice_block(lines, value, old, new, newline)
        else:
            _rewrite_line(lines, rule, number, new, where, newline)
    return "".join(lines)


def _splice_block(
    lines: list[str], seq: CommentedSeq, old: list[str], new: list[str], newline: str
) -> None:
    kept = [key for key in old if key in new]
    added = [key for key in new if key not in old]
    last_line, last_col = seq.lc.item(len(seq) - 1)
    prefix = lines[last_line][:last_col]
    quote = lines[last_line][last_col : last_col + 1]
    quote = quote if quote in ('"', "'") else ""
    if not lines[last_line].endswith(("\n", "\r")):
        lines[last_line] += newline
    lines[last_line + 1 : last_line + 1] = [
        f"{prefix}{quote}{key}{quote}{newline}" for key in added
    ]
    for index in reversed(range(len(seq))):
        if str(seq[index]).strip() not in kept:
            del lines[seq.lc.item(index)[0]]


def _rewrite_line(
    lines: list[str], rule: CommentedMap, number: int, new: list[str], where: str, newline: str
) -> None:
    line, col = rule.lc.key("age")
    original = lines[line]
    body = original[col:].rstrip("\r\n")
    comment = ""
    match = re.search(r"\s+#.*$", body)
    if match:
        comment, body = match.group(0), body[: match.start()]
    reparsed = new_yaml().load(body)
    if not isinstance(reparsed, dict) or _split(reparsed.get("age")) != _split(rule["age"]):
        raise InputError(
            where,
            f"the age recipients of creation rule {number} span several lines; write them as a "
            "YAML list with one `- age1...` per line",
        )
    flow = isinstance(rule["age"], list)
    value = f"[{', '.join(new)}]" if flow else ",".join(new)
    lines[line] = f"{original[:col]}age: {value}{comment}{newline}"


def add_recipient(text: str, key: str, where: str = WHERE) -> str:
    """Add `key` to every creation rule with age recipients that lacks it."""
    if not age_rules(text, where):
        raise InputError(where, "has no creation rule with age recipients to add to")
    return _edit(text, where, lambda keys: keys if key in keys else [*keys, key])


def remove_recipient(text: str, key: str, where: str = WHERE) -> str:
    """Remove `key` from every creation rule; refuse to leave a rule with none."""
    return _edit(text, where, lambda keys: [k for k in keys if k != key])


def sync_answers(text: str, keys: list[str], where: str = ".copier-answers.yml") -> str:
    """Set the `age_recipients` answer of a Copier answers file to `keys` (if it has one)."""
    doc = _load(text, where)
    if not isinstance(doc, CommentedMap) or "age_recipients" not in doc:
        return text
    if _split(doc["age_recipients"]) == keys:
        return text
    lines = text.splitlines(keepends=True)
    newline = _newline(lines)
    start, col = doc.lc.key("age_recipients")
    top = list(doc.keys())
    position = top.index("age_recipients")
    if position + 1 < len(top):
        end = doc.lc.key(top[position + 1])[0]
    else:
        end = len(lines)
        while end > start + 1 and lines[end - 1].strip() in ("", "..."):
            end -= 1
    value = doc["age_recipients"]
    indent = ""
    if isinstance(value, CommentedSeq) and not value.fa.flow_style() and len(value):
        item_line, item_col = value.lc.item(0)
        indent = lines[item_line][: item_col - 2] if item_col >= 2 else ""
    block = [f"{' ' * col}age_recipients:{newline}"]
    block += [f"{indent}- {key}{newline}" for key in keys]
    lines[start:end] = block
    return "".join(lines)
