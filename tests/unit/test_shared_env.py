"""The shared Jinja environment renders every template string as a fresh Copier one does.

The environments here are Copier's own, built from a real template folder, with the same
extra filters, tests and globals registered in both; each shortcut (compiled once, plain text,
only the names read, libyaml's emitter) is compared with the fresh environment on drawn input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from copier._main import Worker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import pass_context
from jinja2.runtime import Context

from generator.copier_run.shared_env import libyaml_emits_alike, share_compiled_strings


class Tool:
    """A value in the context with a method that takes the whole context."""

    @pass_context
    def peek(self, context: Context) -> object:
        return context.get("port")

    def plain(self) -> str:
        return "plain"


CONTEXT: dict[str, Any] = {
    "kind": "service",
    "port": 8080,
    "items": [1, 2],
    "name": "web",
    "range": "an answer named like a global",
    "tool": Tool(),
}
# Everything Jinja's markup is made of, and enough else to make plain text of.
TEXT = st.text(alphabet="{}%#[]-+ \n\rabkind|'\"", max_size=24)


@pass_context
def _whole(context: Context) -> object:
    return context.get("port")


@pass_context
def _whole_filter(context: Context, value: object) -> str:
    return f"{context.get('name')}:{value}"


@pass_context
def _whole_test(context: Context, value: object) -> bool:
    return context.get("port") is not None


def _jinja_env(tmp_path: Path, copier_yml: str) -> Any:
    """The Jinja environment Copier's worker builds for a template with this copier.yml."""
    template = tmp_path / "template"
    template.mkdir(parents=True, exist_ok=True)
    (template / "copier.yml").write_text(copier_yml)
    (template / "part.jinja").write_text("{{ port }}")
    env = Worker(src_path=str(template), dst_path=tmp_path / "out", quiet=True).jinja_env
    env.globals.update(whole=_whole, plain=lambda: "plain")
    env.filters["whole"] = _whole_filter
    env.tests["whole"] = _whole_test
    return env


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """Copier's environment with the shared compiled strings, and a fresh one to compare."""
    folder = tmp_path_factory.mktemp("shared-env")
    shared = _jinja_env(folder / "a", "kind: {type: str}\n")
    share_compiled_strings(shared)
    return shared, _jinja_env(folder / "b", "kind: {type: str}\n")


def _render(env: Any, source: str, *, as_keywords: bool = False) -> str:
    try:
        template = env.from_string(source)
        rendered = template.render(**CONTEXT) if as_keywords else template.render(dict(CONTEXT))
        return str(rendered)
    except Exception as error:  # compare the failure too: same type, same message
        return f"{type(error).__name__}: {error}"


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=TEXT)
def test_a_shared_string_renders_as_jinja_renders_it(envs: tuple[Any, Any], source: str) -> None:
    shared, fresh = envs
    assert _render(shared, source) == _render(fresh, source)
    assert _render(shared, source) == _render(fresh, source)  # and again, from the cache


@pytest.mark.parametrize("value", [True, 0, 1.5, None, [1, "{{ kind }}"], {"a": 1}, object()])
def test_a_value_that_is_no_string_is_refused_as_jinja_refuses_it(
    envs: tuple[Any, Any], value: object
) -> None:
    """Copier offers each question's values to be rendered and takes a TypeError as "as is"."""
    shared, fresh = envs
    with pytest.raises(TypeError) as theirs:
        fresh.from_string(value)
    with pytest.raises(TypeError) as ours:
        shared.from_string(value)
    assert str(ours.value) == str(theirs.value)


def test_a_parsed_template_still_compiles(envs: tuple[Any, Any]) -> None:
    shared, fresh = envs
    tree = fresh.parse("{{ kind }}")
    assert shared.from_string(tree).render(**CONTEXT) == fresh.from_string(tree).render(**CONTEXT)


def test_text_without_markup_skips_the_context_and_markup_does_not(
    envs: tuple[Any, Any],
) -> None:
    shared, _fresh = envs
    plain = [type(shared.from_string(s)).__name__ for s in ("str", "", "a } b %}", "#x")]
    templated = [type(shared.from_string(s)).__name__ for s in ("{{ kind }}", "{# c #}", "x\n")]
    assert plain == ["PlainText"] * 4
    assert "PlainText" not in templated
    assert shared.from_string("str").render(**CONTEXT) == "str"


def test_other_delimiters_decide_what_is_markup(tmp_path: Path) -> None:
    envops = (
        "_envops:\n  variable_start_string: '[['\n  variable_end_string: ']]'\n"
        "  block_start_string: '[%'\n  block_end_string: '%]'\n"
    )
    env = _jinja_env(tmp_path, envops + "kind: {type: str}\n")
    share_compiled_strings(env)
    assert env.from_string("{{ kind }}").render(**CONTEXT) == "{{ kind }}"
    assert type(env.from_string("{{ kind }}")).__name__ == "PlainText"
    assert env.from_string("[[ kind ]]").render(**CONTEXT) == "service"
    assert type(env.from_string("[[ kind ]]")).__name__ != "PlainText"


NAMES = ["kind", "port", "items", "name", "range", "absent", "tool", "loop"]
# The ones that take the context are drawn twice as often.
FILTERS = ["upper", "length", "default('d')", "whole", "whole"]
TESTS = ["defined", "whole", "whole", "string"]
CALLS = ["whole()", "plain()", "tool.peek()", "tool.plain()", "range(2)", "'a,b'.split(',')"]
ATOMS = st.sampled_from([*NAMES, "'a'", "1", "[1, 2]", "none"])


def _expressions() -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, inner).map(lambda p: f"({p[0]} ~ {p[1]})"),
            st.tuples(inner, inner, inner).map(lambda p: f"({p[0]} if {p[1]} else {p[2]})"),
            st.tuples(inner, st.sampled_from(FILTERS)).map(lambda p: f"({p[0]} | {p[1]})"),
            st.tuples(inner, st.sampled_from(TESTS)).map(lambda p: f"({p[0]} is {p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"({p[0]} == {p[1]} and not {p[1]})"),
            inner.map(lambda e: f"{e}[0]"),
            st.sampled_from(CALLS),
        )

    return st.recursive(ATOMS, extend, max_leaves=6)


def _statements(expression: str, other: str) -> list[str]:
    return [
        f"{{{{ {expression} }}}}",
        f"{{% if {expression} %}}yes{{% else %}}{{{{ {other} }}}}{{% endif %}}",
        f"{{% for item in items %}}{{{{ loop.index }}}}{{{{ {expression} }}}}{{% endfor %}}",
        f"{{% set local = {expression} %}}{{{{ local }}}}{{{{ {other} }}}}",
        f"{{% include 'part.jinja' %}}{{{{ {expression} }}}}",
        f"{{% macro m() %}}{{{{ {expression} }}}}{{% endmacro %}}{{{{ m() }}}}",
    ]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expression=_expressions(), other=_expressions(), form=st.integers(0, 5))
def test_a_template_given_only_the_names_it_reads_renders_as_with_every_name(
    envs: tuple[Any, Any], expression: str, other: str, form: int
) -> None:
    shared, fresh = envs
    source = _statements(expression, other)[form]
    for as_keywords in (False, True):
        assert _render(shared, source, as_keywords=as_keywords) == _render(
            fresh, source, as_keywords=as_keywords
        )


def test_only_templates_that_read_by_name_get_only_the_names(envs: tuple[Any, Any]) -> None:
    shared, _fresh = envs
    by_name = ["{{ kind == 'infra' }}", "{{ {'a': 1}.get(kind, 2) }}", "{{ whole() }}"]
    whole = [
        "{{ port | whole }}",  # a filter that takes the context
        "{{ kind is whole }}",  # a test that takes the context
        "{% include 'part.jinja' %}",
        "{% macro m() %}{% endmacro %}",
    ]
    assert [type(shared.from_string(s)).__name__ for s in by_name] == ["NamesOnly"] * 3
    assert "NamesOnly" not in [type(shared.from_string(s)).__name__ for s in whole]
    # A call that takes the context is found while rendering: it gets the whole context.
    assert shared.from_string("{{ whole() }}{{ tool.peek() }}").render(CONTEXT) == "80808080"


# Answers-like data: text from everywhere in Unicode (control characters, surrogates), keys
# that are empty or long, numbers, booleans, null, tuples; some of it libyaml emits otherwise.
ANY_TEXT = st.text(max_size=100)
ASCII_TEXT = st.text(
    st.sampled_from([chr(c) for c in range(0x20, 0x7F)] + ["\n", "\t"]), max_size=300
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), ANY_TEXT, ASCII_TEXT)
LONG_KEYS = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=50, max_size=200
)
KEYS = st.one_of(ANY_TEXT, ASCII_TEXT, LONG_KEYS, st.sampled_from(["0" * 64, "0" * 65, "0" * 128]))
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=4),
        st.tuples(inner),
    ),
    max_leaves=12,
)


def _pure_nice_yaml(data: object, sort_keys: bool) -> str:
    return yaml.dump(
        data, indent=4, allow_unicode=True, default_flow_style=False, sort_keys=sort_keys
    )


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(KEYS, DATA, max_size=6), sort_keys=st.booleans())
def test_the_answers_file_is_emitted_as_pyyaml_emits_it(
    envs: tuple[Any, Any], data: dict[str, Any], sort_keys: bool
) -> None:
    shared, _fresh = envs
    template = shared.from_string("{{ data | to_nice_yaml(sort_keys=sort_keys) }}")
    try:
        expected = _pure_nice_yaml(data, sort_keys)
    except Exception as error:
        with pytest.raises(type(error)):
            template.render(data=data, sort_keys=sort_keys)
        return
    assert template.render(data=data, sort_keys=sort_keys) == expected


def _libyaml_nice_yaml(data: object) -> str:
    try:
        return str(
            yaml.dump(
                data, Dumper=yaml.CDumper, indent=4, allow_unicode=True, default_flow_style=False
            )
        )
    except Exception as error:
        return f"{type(error).__name__}: {error}"


@pytest.mark.parametrize(
    "data",
    [
        {"": 0},  # an empty key: `? ''` for PyYAML, plain for libyaml
        {"\r": None},  # a control character in a key
        {"key": "\x85"},  # a next-line character: kept by PyYAML, escaped by libyaml
        {"k": "\ud800"},  # a lone surrogate: escaped by PyYAML, refused by libyaml
        {"0" * 125: None},  # a long key: `? key` for PyYAML, plain for libyaml
    ],
)
def test_data_libyaml_emits_otherwise_is_not_given_to_it(data: dict[str, Any]) -> None:
    assert _libyaml_nice_yaml(data) != _pure_nice_yaml(data, True)
    assert not libyaml_emits_alike(data)


def test_what_libyaml_is_given(envs: tuple[Any, Any]) -> None:
    from jinja2_ansible_filters.core_filters import to_nice_yaml

    shared_env, fresh_env = envs
    assert fresh_env.filters["to_nice_yaml"] is to_nice_yaml
    assert shared_env.filters["to_nice_yaml"] is not to_nice_yaml  # the libyaml one is in use
    shared = ["one list"]
    # Both emitters write anchors alike today; an object reached twice is kept from libyaml
    # all the same, since anchors are where the two emitters' own code decides names.
    assert not libyaml_emits_alike({"a": shared, "b": shared})
    answers = {"port": 8080, "env": {"A": "b c\n"}, "items": [1.5, None], "0" * 64: True}
    assert libyaml_emits_alike(answers)
    assert _libyaml_nice_yaml(answers) == _pure_nice_yaml(answers, True)
