"""The kustomization editor: unit tests plus properties over generated files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from generator.errors import InputError
from generator.kustomization import (
    add_resource,
    image_tag,
    remove_resource,
    resources,
    set_image_tag,
)

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

path_chars = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_")
segment = st.text(path_chars, min_size=1, max_size=8)
paths = st.lists(segment, min_size=1, max_size=3).map(lambda parts: "../../" + "/".join(parts))
comment = st.text(st.sampled_from("abc xyz:#-'\"é"), max_size=12).map(lambda s: "# " + s)


@st.composite
def kustomization_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Kustomizations kustomize accepts, with comments, odd indentation and unknown keys.

    A file whose only field would be an absent `resources` is one kustomize refuses
    ("kustomization.yaml is empty"), so an empty list is written `resources: []` there.
    """
    items = draw(st.lists(paths, min_size=0, max_size=5, unique_by=lambda p: p.rstrip("/")))
    indent = draw(st.sampled_from(["", "  ", "    "]))
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append(draw(comment))
    if draw(st.booleans()):
        lines.append("---")
    lines += ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization"]
    if draw(st.booleans()):
        lines += ["commonAnnotations:", "  team: platform  " + draw(comment)]
    images = draw(st.booleans())
    if not items and (draw(st.booleans()) or not (images or "commonAnnotations:" in lines)):
        lines.append("resources: []")
    if items:
        lines.append("resources:" + (("  " + draw(comment)) if draw(st.booleans()) else ""))
        for item in items:
            if draw(st.booleans()):
                lines.append(indent + "  " + draw(comment))
            shown = f'"{item}"' if draw(st.booleans()) else item
            trailer = ("  " + draw(comment)) if draw(st.booleans()) else ""
            lines.append(f"{indent}- {shown}{trailer}")
    if images:
        lines += ["images:", f"{indent}- name: gitea.example.com/a/b", f"{indent}  newTag: v1"]
    if draw(st.booleans()):
        lines.append(draw(comment))
    if draw(st.booleans()):
        lines.append("...")
    text = "\n".join(lines) + "\n"
    return text, items


@settings(max_examples=150, deadline=None)
@given(kustomization_texts(), paths)
def test_add_then_remove_restores_the_original_bytes(case: tuple[str, list[str]], new: str) -> None:
    text, items = case
    if any(i.rstrip("/") == new.rstrip("/") for i in items):
        assert add_resource(text, new) == text
        return
    added = add_resource(text, new)
    assert resources(added) == [*items, new]
    assert remove_resource(added, new) == text


@settings(max_examples=150, deadline=None)
@given(kustomization_texts())
def test_no_op_edits_are_byte_identical(case: tuple[str, list[str]]) -> None:
    text, items = case
    for item in items:
        assert add_resource(text, item) == text
    assert remove_resource(text, "../../not/listed/anywhere") == text


@settings(max_examples=100, deadline=None)
@given(kustomization_texts(), paths)
def test_edits_keep_every_other_key(case: tuple[str, list[str]], new: str) -> None:
    text, _ = case
    before = semantic(text) or {}
    after = semantic(add_resource(text, new))
    assert isinstance(after, dict) and isinstance(before, dict)
    assert {k: v for k, v in after.items() if k != "resources"} == {
        k: v for k, v in before.items() if k != "resources"
    }
