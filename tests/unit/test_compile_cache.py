"""Template strings compiled once per process (`generator.copier_run.compile_cache`).

Each environment here is built the way Copier builds one for this template: sandboxed, with
Ansible's filters and the template's extension (which turns the cache on).
"""

from __future__ import annotations

import functools
import gc
import operator
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import SandboxedEnvironment

from generator.copier_run import compile_cache

EXTENSIONS = [
    "jinja2_ansible_filters.AnsibleCoreFiltersExtension",
    "gitops_onboard.GitopsExtension",
]

# Strings that exercise what compiling decides: constants folded through filters, tests,
# filters that take the context or the environment, loops, assignments, macros, whitespace.
SOURCES = [
    "plain text",
    "{{ name }}",
    "{{ 'a/b/c' | basename }}",
    "{{ {'a': 1} | to_json }}",
    "{{ 'x' | upper }}-{{ name | default('none') }}",
    "{% if name is string %}{{ name | yaml_str }}{% endif %}",
    "{{ ['b', 'a'] | sort | join(',') }}",
    "{% for i in range(3) %}{{ i }}{% endfor %}",
    "{% set x = name ~ '!' %}{{ x }}",
    "{% macro m(v) %}<{{ v }}>{% endmacro %}{{ m(name) }}",
    "  {%- if true %} trimmed {% endif -%}  \n",
    "{{ name | rule('branch') }}",
    "{{ 3 * 7 }}",
]


def copier_like(**options: Any) -> SandboxedEnvironment:
    return SandboxedEnvironment(extensions=EXTENSIONS, **options)


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The strings Jinja really compiles for a caching environment while the test runs (the
    cache's misses), a template loaded by name as `name:source`; the cache starts empty."""
    seen: list[str] = []
    real = jinja2.Environment.compile

    def counting(self: Any, source: Any, name: str | None = None, *args: Any) -> Any:
        if "compile" in vars(self):  # a caching environment, not one `uncached` made
            seen.append(source if name is None else f"{name}:{source}")
        return real(self, source, name, *args)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    monkeypatch.setattr(compile_cache, "_compiled", type(compile_cache._compiled)())
    monkeypatch.setattr(compile_cache, "_numbers", {})
    monkeypatch.setattr(compile_cache, "_pinned", {})
    monkeypatch.setattr(compile_cache, "_entries", {})
    yield seen


def uncached(env: SandboxedEnvironment) -> SandboxedEnvironment:
    """`env` compiling every string itself, as Jinja does."""
    del env.compile
    return env


def render_all(env: jinja2.Environment) -> list[str]:
    return [env.from_string(source).render(name="web") for source in SOURCES]


def test_an_environment_like_another_compiles_nothing_again(compiles: list[str]) -> None:
    first = render_all(copier_like())
    assert sorted(compiles) == sorted(SOURCES)
    second = render_all(copier_like())
    assert second == first
    assert sorted(compiles) == sorted(SOURCES)  # no string compiled a second time


def test_what_the_cache_gives_renders_as_a_fresh_environment_renders(compiles: list[str]) -> None:
    render_all(copier_like())
    assert render_all(copier_like()) == render_all(uncached(copier_like()))
    assert sorted(compiles) == sorted(SOURCES)


def test_copier_and_ansible_filters_built_anew_for_each_environment_still_match() -> None:
    """Ansible's `basename` is a new `partial` per environment, Copier's `to_json` too."""
    one, two = copier_like(), copier_like()
    assert one.filters["basename"] is not two.filters["basename"]
    assert compile_cache.configuration(one) == compile_cache.configuration(two)


def _with_filter(function: Callable[..., Any]) -> SandboxedEnvironment:
    env = copier_like()
    env.filters["shout"] = function
    return env


def _suffix(suffix: str) -> Callable[[str], str]:
    return lambda text: text + suffix


def _ending(end: str) -> Callable[[str], str]:
    return lambda text, end=end: text + end  # the same code, another default


@pytest.mark.parametrize(
    ("make_one", "make_other"),
    [
        pytest.param(
            lambda: _with_filter(str.upper), lambda: _with_filter(str.lower), id="function"
        ),
        pytest.param(
            lambda: _with_filter(_suffix("!")), lambda: _with_filter(_suffix("?")), id="closure"
        ),
        pytest.param(
            lambda: _with_filter(functools.partial(operator.add, "y")),
            lambda: _with_filter(functools.partial(operator.add, "z")),
            id="partial",
        ),
        pytest.param(
            lambda: _with_filter(_ending("!")),
            lambda: _with_filter(_ending("?")),
            id="default",
        ),
    ],
)
def test_a_filter_of_the_same_name_that_does_otherwise_compiles_anew(
    compiles: list[str],
    make_one: Callable[[], SandboxedEnvironment],
    make_other: Callable[[], SandboxedEnvironment],
) -> None:
    """`{{ "x" | shout }}` is folded to a constant while compiling, with that filter."""
    source = '{{ "x" | shout }}'
    expected = [make().from_string(source).render() for make in (make_one, make_other)]
    assert expected[0] != expected[1]
    assert compiles == [source, source]


@pytest.mark.parametrize(
    "options",
    [
        {"variable_start_string": "[[", "variable_end_string": "]]"},
        {"trim_blocks": True},
        {"keep_trailing_newline": True},
        {"autoescape": True},
        {"finalize": lambda value: "" if value is None else value},
        {"extensions": [*EXTENSIONS, "jinja2.ext.loopcontrols"]},
        {"optimized": False},
    ],
    ids=lambda options: next(iter(options)),
)
def test_an_environment_configured_otherwise_compiles_on_its_own(
    compiles: list[str], options: dict[str, Any]
) -> None:
    source = "{{ 'a' }}[[ 'b' ]]{% if true %}\n{{ '<' }}{{ none }}{% endif %}\n"
    plain, other = copier_like(), SandboxedEnvironment(**{"extensions": EXTENSIONS, **options})
    assert compile_cache.configuration(plain) != compile_cache.configuration(other)
    for env, fresh in (
        (plain, copier_like()),
        (other, SandboxedEnvironment(**{"extensions": EXTENSIONS, **options})),
    ):
        assert env.from_string(source).render() == uncached(fresh).from_string(source).render()
    assert compiles == [source, source]


def test_a_filter_named_by_identity_is_kept_alive_while_the_cache_holds_it(
    compiles: list[str],
) -> None:
    """Its identity is in the key, so no later object may take its address."""

    class Shout:
        def __call__(self, text: str) -> str:
            return text.upper()

    shout = Shout()
    alive = weakref.ref(shout)
    env = _with_filter(shout)
    env.from_string("{{ 'x' | shout }}").render()
    del env, shout
    gc.collect()
    assert alive() is not None


def test_the_oldest_entries_go_first_and_so_do_their_pins(
    compiles: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compile_cache, "MAX_ENTRIES", 3)

    class Shout:
        def __call__(self, text: str) -> str:
            return text.upper()

    shout = Shout()
    alive = weakref.ref(shout)
    _with_filter(shout).from_string("{{ 1 }}").render()
    del shout
    other = copier_like()
    for n in range(2, 6):
        other.from_string(f"{{{{ {n} }}}}").render()
    gc.collect()
    assert len(compile_cache._compiled) == 3
    assert alive() is None
    other.from_string("{{ 5 }}").render()
    other.from_string("{{ 2 }}").render()
    assert compiles.count("{{ 5 }}") == 1 and compiles.count("{{ 2 }}") == 2


def test_a_configuration_seen_after_an_eviction_never_takes_a_live_ones_number(
    compiles: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compile_cache, "MAX_ENTRIES", 2)
    source = '{{ "x" | shout }}'
    assert _with_filter(str.upper).from_string(source).render() == "X"
    lower = _with_filter(str.lower)
    assert lower.from_string(source).render() == "x"
    lower.from_string("{{ 1 }}").render()  # the upper-case entry goes, and its number
    assert _with_filter(str.title).from_string(source).render() == "X"
    assert _with_filter(str.swapcase).from_string(source).render() == "X"
    assert compiles.count(source) == 4


def test_a_string_that_does_not_compile_fails_each_time(compiles: list[str]) -> None:
    env = copier_like()
    for _ in range(2):
        with pytest.raises(jinja2.TemplateSyntaxError):
            env.from_string("{% if %}")
    assert compiles == ["{% if %}", "{% if %}"]


def test_a_template_file_is_translated_once_and_each_copy_names_its_own_file(
    compiles: list[str], tmp_path: Path
) -> None:
    """Each Copier run reads the template's files from a clone of its own: the same name and
    text in another folder is the same Python, compiled for the file at hand, so what
    Jinja says about a template (its `filename`, a traceback) names that copy's file."""
    folders = [tmp_path / "first", tmp_path / "second"]
    for folder in folders:
        folder.mkdir()
        (folder / "a.txt").write_text("{{ name }}{{ 1 // zero }}")
        (folder / "b.txt").write_text("{{ name }}!")
    for folder in folders:
        env = copier_like(loader=jinja2.FileSystemLoader(folder))
        template = env.get_template("a.txt")
        assert template.filename == str(folder / "a.txt")
        with pytest.raises(ZeroDivisionError) as raised:
            template.render(name="web", zero=0)
        assert raised.traceback[-1].path == folder / "a.txt"
        assert env.get_template("b.txt").render(name="web") == "web!"
    assert compiles == ["a.txt:{{ name }}{{ 1 // zero }}", "b.txt:{{ name }}!"]


def test_a_template_file_of_another_name_or_text_is_translated_anew(
    compiles: list[str],
) -> None:
    """The name is part of what Jinja generates (`self._TemplateReference__context.name`)."""
    loaders = [
        jinja2.DictLoader({"a.txt": "{{ self }}"}),
        jinja2.DictLoader({"c.txt": "{{ self }}"}),
        jinja2.DictLoader({"a.txt": "{{ self }}."}),
    ]
    rendered = [
        copier_like(loader=loader).get_template(next(iter(loader.mapping))).render()
        for loader in loaders
    ]
    assert rendered == [
        "<TemplateReference 'a.txt'>",
        "<TemplateReference 'c.txt'>",
        "<TemplateReference 'a.txt'>.",
    ]
    assert compiles == ["a.txt:{{ self }}", "c.txt:{{ self }}", "a.txt:{{ self }}."]


def test_what_an_extension_does_while_compiling_is_done_on_a_hit_too(
    compiles: list[str],
) -> None:
    """Copier's `yield` extension forgets the last `{% yield %}` each time Jinja compiles a
    template (in its `preprocess`); Copier then reads what a path's yield set. A string or
    file the cache gives must make it forget as well."""
    from copier._jinja_ext import YieldExtension, get_yield_context

    yielding = "{% yield x from [1, 2] %}{{ x }}{% endyield %}"
    loader = jinja2.DictLoader({"a.txt": "{{ 1 }}"})
    forgotten = []
    for _ in range(2):
        env = SandboxedEnvironment(extensions=[*EXTENSIONS, YieldExtension], loader=loader)
        context = get_yield_context(env)
        for by_name in (False, True):
            env.from_string(yielding).render()
            assert context.yield_name == "x" and context.yield_iterable == [1, 2]
            if by_name:
                env.get_template("a.txt")
            else:
                env.from_string("{{ 2 }}")
            forgotten.append(context.yield_name is None and context.yield_iterable is None)
    assert forgotten == [True] * 4
    assert compiles == [yielding, "{{ 2 }}", "a.txt:{{ 1 }}"]
