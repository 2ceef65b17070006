"""The kustomization editor: unit tests plus properties over generated files."""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from generator.errors import InputError
from generator.kubectl import kustomize_build
from generator.kustomization import (
    PatchInput,
    SecretInputs,
    add_resource,
    image_tag,
    patch_inputs,
    redact_secret_literals,
    remove_resource,
    replace_scalars,
    resources,
    secret_generator_inputs,
    set_image_tag,
)
from generator.yamltext import double_quoted

BASE = """\
# cluster koala — hand-written comment
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
    - ../../infrastructure   # keep me
    # a comment between entries
    - "../../apps/web"
namePrefix: koala-
images:
  - name: gitea.example.com/team/web
    newTag: v1 # deployed by CD
...
"""


_FAST: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def semantic(text: str) -> object:
    return YAML(typ="safe", pure=True).load(text)


def test_add_appends_with_the_neighbours_indentation() -> None:
    out = add_resource(BASE, "../../apps/supervisor")
    assert "    - ../../apps/supervisor\n" in out
    assert resources(out) == ["../../infrastructure", "../../apps/web", "../../apps/supervisor"]
    assert out.endswith("...\n")
    assert "# keep me" in out and "# a comment between entries" in out


def test_add_is_idempotent_and_ignores_a_trailing_slash() -> None:
    once = add_resource(BASE, "../../apps/supervisor")
    assert add_resource(once, "../../apps/supervisor") == once
    assert add_resource(once, "../../apps/supervisor/") == once
    assert add_resource(BASE, "../../apps/web") == BASE


def test_remove_restores_the_original_bytes() -> None:
    assert remove_resource(add_resource(BASE, "../../apps/x"), "../../apps/x") == BASE


def test_remove_of_an_absent_entry_changes_nothing() -> None:
    assert remove_resource(BASE, "../../apps/nope") is BASE


def test_add_to_a_file_without_resources_then_remove() -> None:
    text = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamePrefix: a-\n"
    added = add_resource(text, "../../apps/a")
    assert resources(added) == ["../../apps/a"]
    assert remove_resource(added, "../../apps/a") == text


def test_the_last_entry_leaves_an_empty_list_where_kustomize_needs_one() -> None:
    """Without any field kustomize refuses a kustomization; `resources: []` keeps it valid."""
    empty = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"
    added = add_resource(empty, "../../apps/a")
    assert added.endswith("resources:\n- ../../apps/a\n")  # block style from the first entry
    assert remove_resource(added, "../../apps/a") == empty
    listed = "kind: Kustomization\nresources:\n  - ../../apps/a\n"
    assert remove_resource(listed, "../../apps/a") == "kind: Kustomization\nresources: []\n"


def test_add_to_a_file_missing_its_final_newline() -> None:
    text = "kind: Kustomization\nresources:\n- a"
    assert resources(add_resource(text, "b")) == ["a", "b"]


def test_flow_lists_are_edited_as_flow_lists() -> None:
    text = "kind: Kustomization\nresources: [a, b]  \nimages: []\n"
    added = add_resource(text, "c")
    assert resources(added) == ["a", "b", "c"]
    assert semantic(added)["images"] == []  # type: ignore[index]
    assert resources(remove_resource(added, "a")) == ["b", "c"]


def test_paths_that_yaml_would_misread_are_quoted() -> None:
    out = add_resource("resources:\n- a\n", "yes")
    assert '- "yes"' in out
    assert resources(out) == ["a", "yes"]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("resources: [\n", "must be valid YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("resources: ../../apps/a\n", "resources: must be a list of paths"),
        ("resources:\n  a: b\n", "resources: must be a list of paths"),
    ],
)
def test_bad_kustomizations_are_rejected_with_the_rule(text: str, rule: str) -> None:
    with pytest.raises(InputError, match=rule):
        add_resource(text, "x", "clusters/koala/kustomization.yaml")


def test_set_image_tag_changes_only_that_field() -> None:
    out = set_image_tag(BASE, "gitea.example.com/team/web", "3f2c1e0")
    assert image_tag(out, "gitea.example.com/team/web") == "3f2c1e0"
    changed = [(a, b) for a, b in zip(BASE.splitlines(), out.splitlines(), strict=True) if a != b]
    assert changed == [("    newTag: v1 # deployed by CD", "    newTag: 3f2c1e0 # deployed by CD")]
    assert set_image_tag(out, "gitea.example.com/team/web", "3f2c1e0") is out


def test_set_image_tag_quotes_tags_yaml_would_misread() -> None:
    out = set_image_tag(BASE, "gitea.example.com/team/web", "1e3")
    assert image_tag(out, "gitea.example.com/team/web") == "1e3"


def test_set_image_tag_needs_the_entry() -> None:
    with pytest.raises(InputError, match="has no entry named"):
        set_image_tag(BASE, "other/image", "x")


# ── properties ───────────────────────────────────────────────────────────────
# Example counts come from the hypothesis profile (tests/conftest.py): 300 derandomized
# examples under CI=true, fewer and random on a workstation, 2000 under "thorough".

path_chars = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_")
segment = st.text(path_chars, min_size=1, max_size=8)
paths = st.lists(segment, min_size=1, max_size=3).map(lambda parts: "../../" + "/".join(parts))
comment = st.text(st.sampled_from("abc xyz:#-'\"é[],{}"), max_size=12).map(lambda s: "# " + s)


@dataclass(frozen=True)
class Case:
    """A generated kustomization: its text, its `resources` and the line break it uses."""

    text: str
    items: list[str]
    newline: str


def _quoted(draw: st.DrawFn, item: str) -> str:
    return draw(st.sampled_from([item, f'"{item}"', f"'{item}'"]))


def _maybe_comment(draw: st.DrawFn, pad: str = "  ") -> str:
    return (pad + draw(comment)) if draw(st.booleans()) else ""


def _resources_lines(draw: st.DrawFn, items: list[str], alone: bool) -> list[str]:
    """The `resources` field in one of the layouts people write, with comments around it.

    An empty `items` may also be drawn as no field at all, unless it is the only field.
    """
    styles = ["flow", "multi-line flow"] + (["block"] if items else [])
    if not alone and not items:
        styles.append("absent")
    style = draw(st.sampled_from(styles))
    indent = draw(st.sampled_from(["", "  ", "    "]))
    lines: list[str] = []
    if style == "absent":
        return lines
    if style == "block":
        dash = draw(st.sampled_from(["- ", "-   "]))
        lines.append("resources:" + _maybe_comment(draw))
        for item in items:
            if draw(st.booleans()):
                lines.append(indent + draw(st.sampled_from(["", "  "])) + draw(comment))
            lines.append(f"{indent}{dash}{_quoted(draw, item)}{_maybe_comment(draw)}")
    elif style == "flow":
        sep = draw(st.sampled_from([", ", ",", " , "]))
        pad = draw(st.sampled_from(["", " "]))
        trailing = "," if items and draw(st.booleans()) else ""
        body = sep.join(_quoted(draw, item) for item in items)
        spaces = draw(st.sampled_from(["", "  "]))
        lines.append(f"resources: [{pad}{body}{trailing}{pad}]{spaces}{_maybe_comment(draw)}")
    else:
        lines.append("resources: [" + _maybe_comment(draw))
        for position, item in enumerate(items):
            comma = "," if position < len(items) - 1 or draw(st.booleans()) else ""
            lines.append(f"{indent}  {_quoted(draw, item)}{comma}{_maybe_comment(draw)}")
        lines.append(indent + "]" + _maybe_comment(draw))
    for _ in range(draw(st.integers(0, 2))):
        lines.append(draw(st.sampled_from(["", "  "])) + draw(comment))
    return lines


@st.composite
def kustomization_texts(draw: st.DrawFn) -> Case:
    """Kustomizations kustomize accepts, written every way a person or an editor might.

    Line breaks LF, CRLF or CR; a byte-order mark; no final line break; block, flow and
    multi-line flow lists with comments on, between and after them; quoted entries; other
    fields before and after `resources`. A file whose only field would be an absent
    `resources` is one kustomize refuses ("kustomization.yaml is empty"), so it is not drawn.
    """
    items = draw(st.lists(paths, min_size=0, max_size=5, unique_by=lambda p: p.rstrip("/")))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    fields: list[list[str]] = []
    if draw(st.booleans()):
        fields.append(["commonAnnotations:" + _maybe_comment(draw), "  team: platform"])
    if draw(st.booleans()):
        fields.append(["namePrefix: koala-" + _maybe_comment(draw)])
    if draw(st.booleans()):
        fields.append(["images:", "- name: gitea.example.com/a/b", "  newTag: v1"])
    resources_field = _resources_lines(draw, items, alone=not fields)
    fields.insert(draw(st.integers(0, len(fields))), resources_field)
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append(draw(comment))
    if draw(st.booleans()):
        lines.append("---")
    lines += ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization"]
    for field in fields:
        lines += field
    if draw(st.booleans()):
        lines.append(draw(comment))
    if draw(st.booleans()):
        lines.append("...")
    text = newline.join(lines)
    if draw(st.booleans()):
        text += newline
    if draw(st.booleans()):
        text = "\ufeff" + text
    return Case(text, items, newline)


def _case(text: str, items: list[str]) -> Case:
    return Case(text, items, "\r\n" if "\r\n" in text else "\r" if "\r" in text else "\n")


# Inputs that once broke an edit, kept as explicit examples of every property below.
PINNED = [
    _case("resources: []\n# keep me\nnamePrefix: x\n", []),
    _case("kind: Kustomization\nresources: [a, b] # note\n# after\nimages: []\n", ["a", "b"]),
    _case("kind: Kustomization\r\nresources:\r\n- a\r\n", ["a"]),
    _case("kind: Kustomization\rresources:\r- a\r", ["a"]),
    _case("kind: Kustomization\nnamePrefix: x", []),
    _case("\ufeffkind: Kustomization\r\nresources: []\r\n", []),
    _case(
        "kind: Kustomization\nresources: [\n  a,  # about a\n  b,  # about b\n]\nx: 1\n", ["a", "b"]
    ),
    _case("kind: Kustomization\nresources: [../../0,]", ["../../0"]),  # once left `[,]`
]


def pinned(*args: object) -> Callable[[Any], Any]:
    """Every pinned case as an explicit example, followed by the other arguments `args`."""

    def decorate(test: Any) -> Any:
        for case in PINNED:
            test = example(case, *args)(test)
        return test

    return decorate


def _breaks(text: str) -> set[str]:
    return set(re.findall(r"\r\n|\r|\n", text))


def _is_subsequence(short: str, long: str) -> bool:
    """True when every character of `short` is in `long`, in order (only insertions)."""
    chars = iter(long)
    return all(char in chars for char in short)


def _others(text: str) -> list[tuple[str, object]]:
    doc = yaml.load(text, Loader=_FAST) or {}  # C speed: the properties run 1000 times in CI
    assert isinstance(doc, dict)
    return [(k, v) for k, v in doc.items() if k != "resources"]


def _comments(text: str) -> Counter[str]:
    return Counter(line[line.index("#") :] for line in re.split(r"\r\n|\r|\n", text) if "#" in line)


_EMPTY_LIST_LINE = re.compile(r"(?:\A|(?<=[\r\n]))resources: \[\](?=[\r\n]|\Z)")


def _becomes_block(case: Case) -> bool:
    """The one layout change: `resources: []` alone in a file turns into a block list."""
    return not case.items and _EMPTY_LIST_LINE.search(case.text) is not None


@given(kustomization_texts(), paths)
@pinned("../../apps/new")
def test_add_only_inserts_and_remove_takes_exactly_that_out(case: Case, new: str) -> None:
    text, items = case.text, case.items
    if any(i.rstrip("/") == new.rstrip("/") for i in items):
        assert add_resource(text, new) == text
        return
    added = add_resource(text, new)
    assert resources(added) == [*items, new]
    assert add_resource(added, new) == added  # idempotent
    assert remove_resource(added, new) == text  # exactly undone
    # every byte survives, in order: comments, key order, indentation, markers
    if _becomes_block(case):
        assert _is_subsequence(text.replace("resources: []", "resources:"), added)
    else:
        assert _is_subsequence(text, added)
    assert _breaks(added) <= {case.newline}  # the file's own line break
    assert added.endswith(("\n", "\r")) == text.endswith(("\n", "\r"))
    assert _others(added) == _others(text)


@given(kustomization_texts(), st.integers(0, 4))
@pinned(0)
@pinned(1)
def test_remove_deletes_only_the_entry_and_its_own_comment(case: Case, which: int) -> None:
    if not case.items:
        return
    text = case.text
    victim = case.items[which % len(case.items)]
    out = remove_resource(text, victim)
    assert resources(out) == [i for i in case.items if i != victim]
    assert remove_resource(out, victim) == out  # idempotent
    if "resources: []" in out and "resources: []" not in text:
        assert _is_subsequence(out.replace("resources: []", "resources:"), text)
    else:
        assert _is_subsequence(out, text)  # nothing but deletions
    token = re.compile(rf"(?<![\w./-])[\"']?{re.escape(victim)}[\"']?(?![\w./-])")
    lost = Counter(  # the comment on a line that holds nothing but the entry goes with it
        line[line.index("#") :]
        for line in re.split(r"\r\n|\r|\n", text)
        if "#" in line
        and token.search(line.split("#")[0])
        and not token.sub("", line.split("#")[0]).strip(" -,")
    )
    assert _comments(out) + lost >= _comments(text)  # only the entry's own comment goes
    assert _breaks(out) <= {case.newline}
    assert out.endswith(("\n", "\r")) == text.endswith(("\n", "\r"))
    assert _others(out) == _others(text)


@given(kustomization_texts(), st.integers(0, 4), st.booleans())
@pinned(0, True)
def test_no_op_edits_are_byte_identical(case: Case, which: int, slash: bool) -> None:
    if case.items:
        listed = case.items[which % len(case.items)] + ("/" if slash else "")
        assert add_resource(case.text, listed) is case.text
    assert remove_resource(case.text, "../../not/listed/anywhere") is case.text


# ── secretGenerator inputs, and their literals redacted ──────────────────────────────────

GENERATORS = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization  # a comment that stays
secretGenerator:
  - &shared
    name: shared
    literals: &lits
      - SHARED=anchored-value-1
  - name: block
    literals:
      - PLAIN=plain-value-2
      - "QUOTED=quoted: value-3 # not a comment"
      - |
        BLOCK=block-value-4
      - NO_VALUE=
    files: [token.txt, renamed=conf/raw.bin]
    envs:
      - db.env
  - <<: *shared
    name: merged
  - name: aliased
    literals: *lits
  - name: flow
    literals: [FLOW=flow-value-5, "EQ=a=b-value-6"]
    env: old.env
configMapGenerator:
  - name: config
    literals: [NOT_SECRET=config-value]
"""
SECRET_VALUES = [f"value-{n}" for n in range(1, 7)]


def test_secret_generator_inputs_resolve_anchors_and_both_env_forms() -> None:
    inputs = secret_generator_inputs(GENERATORS)
    assert inputs.files == ("token.txt", "conf/raw.bin")
    assert inputs.envs == ("db.env", "old.env")
    assert "NOT_SECRET=config-value" not in inputs.literals
    assert {"SHARED=anchored-value-1", "BLOCK=block-value-4\n", "EQ=a=b-value-6"} <= set(
        inputs.literals
    )


@pytest.mark.parametrize(
    "text", ["", "resources: [a]\n", "key: [unclosed\n", "- a list\n", "secretGenerator: 3\n"]
)
def test_text_without_literals_is_left_alone(text: str) -> None:
    assert redact_secret_literals(text, "PH") is None
    assert secret_generator_inputs(text) == SecretInputs(frozenset(), (), ())


def test_literals_lose_their_values_and_nothing_else_changes(tmp_path: Path) -> None:
    """Built by kustomize before and after: the same Secrets with the same keys, each value
    the placeholder; every line without a literal is byte for byte as written."""
    redacted = redact_secret_literals(GENERATORS, "PH")
    assert redacted is not None
    assert not [value for value in SECRET_VALUES if value in redacted]
    assert "NOT_SECRET=config-value" in redacted
    changed = (*SECRET_VALUES, "NO_VALUE=", "- |")
    kept = [line for line in GENERATORS.splitlines() if not any(c in line for c in changed)]
    assert [line for line in redacted.splitlines() if line in kept] == kept
    for name, text in (("before", GENERATORS), ("after", redacted)):
        folder = tmp_path / name
        (folder / "conf").mkdir(parents=True)
        (folder / "kustomization.yaml").write_text(text)
        (folder / "token.txt").write_text("t")
        (folder / "conf/raw.bin").write_text("r")
        (folder / "db.env").write_text("DB=d\n")
        (folder / "old.env").write_text("OLD=o\n")
    before, after = (
        {
            o["metadata"]["name"][:-11]: o
            for o in kustomize_build(tmp_path / n)
            if o["kind"] == "Secret"
        }
        for n in ("before", "after")
    )
    assert {name: sorted(o["data"]) for name, o in before.items()} == {
        name: sorted(o["data"]) for name, o in after.items()
    }
    assert set(before) == {"shared", "block", "merged", "aliased", "flow"}
    placeholder = base64.b64encode(b"PH").decode()
    literal_keys = {"PLAIN", "QUOTED", "BLOCK", "NO_VALUE", "SHARED", "FLOW", "EQ"}
    for obj in after.values():
        for key, value in obj["data"].items():
            assert (value == placeholder) == (key in literal_keys), (key, value)


@given(
    st.lists(
        st.tuples(st.from_regex(r"[A-Z_]{1,8}", fullmatch=True), st.text(max_size=20)),
        min_size=1,
        max_size=4,
    )
)
def test_any_literal_value_is_replaced_and_its_key_kept(literals: list[tuple[str, str]]) -> None:
    entries = [f"{key}={value}" for key, value in literals]
    text = "secretGenerator:\n  - name: s\n    literals:\n" + "".join(
        f"      - {double_quoted(entry)}\n" for entry in entries
    )
    redacted = redact_secret_literals(text, "PH")
    assert redacted is not None
    loaded = yaml.safe_load(redacted)
    assert loaded["secretGenerator"][0]["literals"] == [f"{key}=PH" for key, _value in literals]


PATCHES = """\
x-target: &secret {kind: Secret, name: s}
patches:
  - patch: |-
      kind: Secret
      metadata: {name: s}
  - target: *secret
    path: ops.yaml
  - {path: deployment-patch.yaml}
  - patch: 3
patchesStrategicMerge:
  - smp.yaml
  - |-
    kind: Secret
    metadata: {name: s}
patchesJson6902:
  - target: {version: v1, kind: Secret, name: s}
    patch: '[{"op": "remove", "path": "/data/a"}]'
"""


def test_patch_inputs_name_each_patch_inline_or_by_file_with_its_target_kind() -> None:
    assert patch_inputs(PATCHES) == (
        PatchInput("kind: Secret\nmetadata: {name: s}", None, None),
        PatchInput(None, "ops.yaml", "Secret"),
        PatchInput(None, "deployment-patch.yaml", None),
        PatchInput(None, None, None),
        PatchInput('[{"op": "remove", "path": "/data/a"}]', None, "Secret"),
        PatchInput(None, "smp.yaml", None),
        PatchInput("kind: Secret\nmetadata: {name: s}", None, None),
    )


@pytest.mark.parametrize("text", ["", "key: [unclosed\n", "- a list\n", "patches: {a: b}\n"])
def test_text_without_patches_has_none(text: str) -> None:
    assert patch_inputs(text) == ()


def test_replace_scalars_rewrites_only_those_scalars_however_written() -> None:
    text = "a: plain # kept\nb: 'quoted'\nc: |\n  block\n  two\nd: [plain, other]\n"
    out = replace_scalars(text, {"plain": "P", "quoted": "Q", "block\ntwo\n": "B\nB"})
    assert out == 'a: "P" # kept\nb: "Q"\nc: "B\\nB"\nd: ["P", other]\n'
    assert yaml.safe_load(out) == {"a": "P", "b": "Q", "c": "B\nB", "d": ["P", "other"]}
