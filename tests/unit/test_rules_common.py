"""generator.rules.common: each field rule's yes and no, and the rule it states."""

from __future__ import annotations

import pytest

from generator.rules.common import RULES, control_character

# rule name -> (values it accepts, values it refuses)
CASES: dict[str, tuple[list[object], list[object]]] = {
    "dns1035_label": (["web", "a", "a-1", "x" * 63], ["", "1web", "web-", "Web", "x" * 64, 3]),
    "dns1123_label": (["koala", "1st", "a-b"], ["-a", "a_b", "A", "x" * 64, None]),
    "port": ([1, 8080, 65535], [0, 65536, True, "80", 8.0]),
    "replicas": ([0, 3], [-1, False, "2"]),
    "user_id": ([0, 1000, 2147483647], [-1, 2147483648, True]),
    "env": ([None, {}, {"A_1": "x", "_b": ""}], [[], {"1A": "x"}, {"A": 1}, {"A": None}]),
    "env_names": ([None, [], ["A", "B"]], ["A", ["A", "A"], ["a-b"], [1]]),
    "cluster_list": ([["koala"], ["koala", "iguana"]], [[], "koala", ["koala", "koala"], ["K"]]),
    "registry": (["gitea.example.com", "registry.local:5000"], ["Gitea.com", "r:port", "", "a/b"]),
    "owner": (["mathias", "team/apps", "a.b_c-d"], ["Team", "/team", "team/", "a..b", ""]),
    "quantity": (["", None, "100m", "0.5", ".5", "256Mi", "1Gi", "2"], ["1 Gi", "1gb", "m", 1]),
    "absolute_path": (["/app/data", "/"], ["app", "", "/a\nb", None]),
    "http_path": (["", None, "/healthz", "/a?b=c"], ["healthz", "/a b", 1]),
    "secret_name": (["", None, "regcred"], ["RegCred", "a_b"]),
    "storage_class": (["", None, "local-path"], ["Local", "a b"]),
    "label_value": (["", None, "node-1", "A.b_c", "x" * 63], ["-a", "a-", "x" * 64, "a b"]),
    "image_tag": (["v1.2.3", "latest", "_x", "a" * 128], ["", ".x", "-x", "a" * 129, "a:b"]),
    "image_ref": (
        ["busybox:1.37", "gitea.example.com:5000/team/web:v1", f"redis@sha256:{'a' * 64}"],
        ["busybox", "Busybox:1", "redis@sha256:abc", "a:b c"],
    ),
    "ports_map": (
        [None, {}, {"metrics": 9090, "admin-api": 8081}],
        [[], {"Metrics": 1}, {"a-very-long-port-name": 1}, {"metrics": 0}, {1: 80}],
    ),
}


def test_every_rule_has_cases() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize(
    ("rule", "value"),
    [(rule, value) for rule, (good, _) in CASES.items() for value in good],
)
def test_a_value_the_rule_accepts(rule: str, value: object) -> None:
    assert RULES[rule](value) == ""


@pytest.mark.parametrize(
    ("rule", "value"),
    [(rule, value) for rule, (_, bad) in CASES.items() for value in bad],
)
def test_a_value_the_rule_refuses_gets_the_rule_in_words(rule: str, value: object) -> None:
    problem = RULES[rule](value)
    assert problem and "\n" not in problem
    assert problem.startswith(("must", "names must")) or ": " in problem


def test_list_rules_name_the_entry_that_breaks_them() -> None:
    assert RULES["cluster_list"](["koala", "Bad"]).startswith("'Bad': must be a DNS-1123 label")
    assert RULES["env_names"](["OK", "no-dash"]).startswith("'no-dash': names must match")
    assert RULES["env"]({"PORT": 80}) == (
        'PORT: values must be strings; quote it in YAML ("80") so it is not read as int'
    )
    assert RULES["ports_map"]({"metrics": 0}) == "metrics: must be an integer from 1 to 65535"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("plain", ""),
        ("a\nb", "'\\n'"),
        ("tab\there", "'\\t'"),
        ("x\u2028", "'\\u2028'"),
        ("\x7f", "'\\x7f'"),
    ],
)
def test_control_character_names_the_first_one(text: str, found: str) -> None:
    assert control_character(text) == found
