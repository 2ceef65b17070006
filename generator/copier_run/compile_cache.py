"""Each template string is compiled once per process, not each time Copier renders it.

Copier renders a question's default, condition, validator and help text by compiling the
string anew each time (`Environment.from_string`): onboarding a service (a pretend run, then
the copy) compiles about 430 strings, of about 100 distinct ones, and every copy, update and
pretend run in a process compiles the same strings again in an environment of its own.
`compile_once(env)` keeps what `env.compile` makes of a string (Python code) in a cache
shared by the environments of this process; `from_string` still binds that code to the
environment asking, with its globals, as Jinja does.

The code depends on how the environment parses and generates code, and on nothing else:
its class, syntax, whitespace and newline settings, extensions, policies, finalize,
autoescape, and its filters and tests, which Jinja looks up while compiling and calls to
fold constant arguments (`{{ "a/b" | basename }}` compiles to `"b"`). All of these make up
the key (`configuration`), so an environment configured otherwise compiles on its own. A
filter is known by what it runs: Copier and Ansible's filters build some of theirs anew for
each environment (a lambda, a `functools.partial`), alike in code, arguments and captured
values, so those are compared by their parts; any other object by identity, and the cache
keeps it alive while a key names it, so its identity is never another object's.

A template's files, loaded by name, come from a clone of its own in each Copier run, so
the same name and text sit in another folder each time. What Jinja makes of them (Python
source, where the name is part of the code and the file is not) is kept by configuration,
name and text; only Python's compiling of that source runs for each file, so the code, and
what Jinja says about the template (its `filename`, a traceback), names the file at hand.

A string or file the cache gives still goes through the extensions' `preprocess`, as Jinja
does it while compiling: Copier's `yield` extension forgets the last `{% yield %}` there.
"""

from __future__ import annotations

import functools
import itertools
import threading
import types
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["MAX_ENTRIES", "compile_once", "configuration", "configuration_number"]

MAX_ENTRIES = 4096
# How deep a filter's parts (a partial of a closure of a partial...) are compared; deeper
# parts are compared by identity.
_DEPTH = 6

_SIMPLE = (str, int, float, bool, type(None))
_lock = threading.Lock()
# (configuration number, source, defer_init, None) -> code of a string; (..., name) -> the
# Python source of a template loaded by that name. Least recently used first.
_Key = tuple[int, str, bool, str | None]
_compiled: OrderedDict[_Key, types.CodeType | str] = OrderedDict()
# Each configuration seen, by number (never one given before); the objects it names by
# identity, kept alive while an entry of the cache holds its number; and how many do.
_next_number = itertools.count()
_numbers: dict[Hashable, int] = {}
_pinned: dict[int, list[object]] = {}
_entries: dict[int, int] = {}


def _part(value: Any, pins: list[object], depth: int = _DEPTH) -> Hashable:
    """`value` as part of a key: equal for two values that behave alike (see the module)."""
    if isinstance(value, _SIMPLE):
        return (type(value), value)
    if depth > 0:
        if type(value) is tuple:
            return ("tuple", tuple(_part(item, pins, depth - 1) for item in value))
        if type(value) is functools.partial:
            return (
                "partial",
                _part(value.func, pins, depth - 1),
                _part(value.args, pins, depth - 1),
                _named_parts(value.keywords, pins, depth - 1),
            )
        if type(value) is types.FunctionType:
            return _function(value, pins, depth)
    pins.append(value)
    return ("id", id(value))


def _named_parts(values: dict[str, Any], pins: list[object], depth: int = _DEPTH) -> Hashable:
    return tuple(sorted((str(name), _part(value, pins, depth)) for name, value in values.items()))


def _function(function: types.FunctionType, pins: list[object], depth: int) -> Hashable:
    cells: list[Hashable] = []
    for cell in function.__closure__ or ():
        try:
            cells.append(_part(cell.cell_contents, pins, depth - 1))
        except ValueError:  # a cell not filled yet
            cells.append(("empty",))
    pins.extend((function.__code__, function.__globals__))
    return (
        "function",
        id(function.__code__),
        id(function.__globals__),
        _part(function.__defaults__, pins, depth - 1),
        _named_parts(function.__kwdefaults__ or {}, pins, depth - 1),
        tuple(cells),
        _named_parts(vars(function), pins, depth - 1),  # Jinja's pass_context mark, say
    )


def configuration(env: Any, pins: list[object] | None = None) -> Hashable:
    """Everything of `env` that may change what it compiles a string to.

    Equal for two environments that compile every string alike; the objects it names by
    identity are added to `pins`.
    """
    pins = [] if pins is None else pins
    settings = {name: value for name, value in vars(env).items() if isinstance(value, _SIMPLE)}
    return (
        _part(type(env), pins),
        _part(env.code_generator_class, pins),
        _named_parts(settings, pins),
        tuple((name, _part(type(ext), pins), ext.priority) for name, ext in env.extensions.items()),
        _named_parts(env.filters, pins),
        _named_parts(env.tests, pins),
        _named_parts(env.policies, pins),
        _part(env.finalize, pins),
        _part(env.autoescape, pins),
    )


def _shallow(env: Any) -> tuple[object, ...]:
    """What `configuration` is made of, by identity: cheap to take and to compare."""
    return (
        tuple(vars(env).items()),
        tuple(env.extensions.items()),
        tuple(env.filters.items()),
        tuple(env.tests.items()),
        tuple(env.policies.items()),
    )


def _number(env: Any) -> int:
    pins: list[object] = []
    settings = configuration(env, pins)
    with _lock:
        number = _numbers.get(settings)
        if number is None:
            number = _numbers[settings] = next(_next_number)
        _pinned.setdefault(number, pins)
    return number


def configuration_number(env: Any) -> int:
    """A number for `env`'s `configuration`, never given to another configuration.

    Environments that compile every string alike get the same number while the cache holds
    code of theirs; after that, a new one.
    """
    return _number(env)


def _store(key: _Key, code: types.CodeType | str) -> None:
    with _lock:
        if key not in _compiled:
            _entries[key[0]] = _entries.get(key[0], 0) + 1
        _compiled[key] = code
        while len(_compiled) > MAX_ENTRIES:
            (number, *_), _ = _compiled.popitem(last=False)
            _entries[number] -= 1
            if not _entries[number]:
                # Its objects may go now: a later environment like it gets a new number.
                del _entries[number]
                _pinned.pop(number, None)
                for settings in [k for k, n in _numbers.items() if n == number]:
                    del _numbers[settings]


def compile_once(env: Any) -> None:
    """Make `env.compile` reuse this process's code for a string it compiled before."""
    original = env.compile
    if getattr(original, "compiles_once", False):
        return
    seen: list[Any] = [None, -1]  # env's shallow configuration, and its number

    def compile_cached(
        source: Any,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        if type(source) is not str or raw or (name is None and filename is not None):
            return original(source, name, filename, raw, defer_init)
        shallow = _shallow(env)
        if shallow != seen[0] or seen[1] not in _pinned:
            seen[:] = [shallow, _number(env)]
        key = (seen[1], source, defer_init, name)
        with _lock:
            done = _compiled.get(key)
            if done is not None:
                _compiled.move_to_end(key)
        if done is None:
            done = original(source, name, filename, name is not None, defer_init)
            _store(key, done)
        else:
            # What the extensions do while Jinja compiles (Copier's `yield` forgets the last
            # yield there) is done as if it compiled; what they make of the text follows from
            # the text and the extensions, both in the key.
            env.preprocess(source, name, filename)
        if isinstance(done, str):
            return env._compile(done, filename or "<template>")
        return done

    compile_cached.compiles_once = True  # type: ignore[attr-defined]
    env.compile = compile_cached
