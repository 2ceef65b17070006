"""generator.ownership: which files of a stamped copy belong to the user."""

from __future__ import annotations

import pytest

from generator.ownership import (
    LOCAL_COMPONENT,
    RULES,
    USER_OWNABLE,
    is_user_owned,
    legitimate_ways,
)


@pytest.mark.parametrize(
    ("relative", "owned"),
    [
        ("local/kustomization.yaml", True),
        ("local/patches/extra.yaml", True),
        (LOCAL_COMPONENT, True),
        ("deployment.yaml", False),
        ("locals/x.yaml", False),
        ("base/local/x.yaml", False),
        ("", False),
    ],
)
def test_a_service_owns_only_its_local_component(relative: str, owned: bool) -> None:
    assert is_user_owned("service", {}, relative) is owned


def test_an_app_owns_the_files_its_answer_lists() -> None:
    answers = {"user_owned": ["Dockerfile"]}
    assert is_user_owned("app", answers, "Dockerfile")
    assert not is_user_owned("app", answers, ".dockerignore")
    assert not is_user_owned("app", {}, "Dockerfile")
    assert not is_user_owned("app", {"user_owned": "Dockerfile"}, "Dockerfile")  # not a list


def test_an_infra_copy_owns_nothing() -> None:
    assert not is_user_owned("infra", {"user_owned": ["Dockerfile"]}, "Dockerfile")
    assert not is_user_owned("infra", {}, "local/x")


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (None, ""),
        ([], ""),
        (list(USER_OWNABLE), ""),
        ("Dockerfile", "must be a list of files among Dockerfile, .dockerignore"),
        ([".gitea/workflows/cd.yml"], "must be a list of files among Dockerfile, .dockerignore"),
        (["Dockerfile", "Dockerfile"], "must not list a file twice"),
    ],
)
def test_the_user_owned_answer(value: object, rule: str) -> None:
    assert RULES["user_owned"](value) == rule


def test_each_way_to_make_a_hand_edit_legitimate() -> None:
    assert f"own Component {LOCAL_COMPONENT}/" in legitimate_ways("service", "deployment.yaml")
    assert "'user_owned=[Dockerfile]'" in legitimate_ways("app", "Dockerfile")
    assert legitimate_ways("app", ".gitea/workflows/cd.yml") == (
        "make it an answer, or a template change"
    )
