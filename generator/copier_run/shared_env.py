"""One Jinja environment per template version, shared by every copy rendered with it.

Copier builds a Jinja environment for each worker and compiles a template string each time it
renders one: about 400 strings per copy (questions' defaults, conditions, validators, help),
each rendered with a copy of every answer in its context. `share_compiled_strings(env)`
makes one environment serve every copy of a version and makes the same output cheaper:

- each template string is compiled once per environment, and a value that is no string
  (Copier offers each question's booleans, numbers and lists too) is refused as Jinja
  refuses it, without a compile that ends in the same error;
- a string without markup (`str`, `yaml`, a plain help text) renders to itself without
  building a context;
- a string whose every part is known to read the context only by name (no include, import,
  macro, block or extension tag, and no filter or test that takes the context) gets only the
  names it reads. A call to anything that would take the context makes it render again with
  the whole context, as Jinja would have rendered it (a string that also changed a value in
  place before that call, such as `items.append(1)`, would change it twice);
- `to_nice_yaml`, with which Copier writes the answers file, emits with libyaml instead of
  PyYAML's pure-Python emitter when the data is of the kind both emit byte for byte alike
  (mappings with short printable ASCII keys, lists, printable ASCII text, numbers, booleans,
  null, no object reached twice); any other data goes through the filter as it was.

The unit tests compare each shortcut with a fresh Copier environment on drawn input.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import yaml
from jinja2 import nodes
from jinja2.utils import _PassArg

__all__ = ["libyaml_emits_alike", "names_read", "share_compiled_strings", "takes_context"]

# Node types whose only way to read the context is a name (`Name` nodes) or a call.
_READS_BY_NAME: tuple[type[nodes.Node], ...] = (
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Filter,
    nodes.Test,
    nodes.Call,
    nodes.Keyword,
    nodes.Compare,
    nodes.Operand,
    nodes.BinExpr,  # + - * / // % ** and, or
    nodes.UnaryExpr,  # not, unary - and +
    nodes.Concat,
    nodes.CondExpr,
    nodes.If,
    nodes.For,
    nodes.Assign,
    nodes.List,
    nodes.Tuple,
    nodes.Dict,
    nodes.Pair,
)
_NOT_A_TEMPLATE = "Can't compile non template nodes"
_PRINTABLE_ASCII = frozenset(map(chr, range(0x20, 0x7F)))
# The emitters disagree on when a long key needs the `? key` form; both write shorter ones alike.
_SHORT_KEY = 64
_PRINTABLE_TEXT = _PRINTABLE_ASCII | {"\n", "\t"}


def takes_context(function: Any) -> bool:
    """True when Jinja passes the render context to `function` (`@pass_context`)."""
    return _PassArg.from_obj(function) is _PassArg.context


def names_read(env: Any, source: str) -> frozenset[str] | None:
    """The names `source` reads from its context, or None if it may read the context otherwise."""
    try:
        template = env.parse(source)  # after the extensions' preprocessing, as compiled
    except Exception:  # not even a template: Copier reports it where it compiles it
        return None
    names: set[str] = set()
    for node in template.find_all(nodes.Node):
        if not isinstance(node, _READS_BY_NAME):
            return None
        if isinstance(node, nodes.Filter) and _filter_takes_context(env.filters, node.name):
            return None
        if isinstance(node, nodes.Test) and _filter_takes_context(env.tests, node.name):
            return None
        if isinstance(node, nodes.Name):
            names.add(node.name)
    return frozenset(names)


def _filter_takes_context(known: dict[str, Any], name: str) -> bool:
    # An unknown name fails to compile anyway; it is left to Jinja to say so.
    return name not in known or takes_context(known[name])


class _WholeContextNeeded(Exception):
    """A template given only the names it reads called something that takes the context."""


@cache
def _guarded_context_class(context_class: Any) -> Any:
    class NamesOnlyContext(context_class):  # type: ignore[misc]
        def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            # Where Jinja looks: the object, and the `__call__` of a callable object.
            method = getattr(__obj, "__call__", None)  # noqa: B004
            if takes_context(__obj) or takes_context(method):
                raise _WholeContextNeeded
            return super().call(__obj, *args, **kwargs)

    return NamesOnlyContext


def _template_classes() -> tuple[type, type]:
    from jinja2 import Template

    class PlainText(Template):
        """A template without markup: it renders to its source without building a context."""

        text: str = ""

        def render(self, *args: Any, **kwargs: Any) -> str:
            return self.text

    class NamesOnly(Template):
        """A template rendered with only the names it reads in its context."""

        names: frozenset[str] = frozenset()

        def render(self, *args: Any, **kwargs: Any) -> str:
            given = args[0] if len(args) == 1 and not kwargs and type(args[0]) is dict else None
            if given is None:
                given = dict(*args, **kwargs)
            # As Jinja's context, cut to these names: a variable first, else a global.
            shared = self.globals
            scope = {
                name: given[name] if name in given else shared[name]
                for name in self.names
                if name in given or name in shared
            }
            context_class: Any = self.environment.context_class
            guarded = _guarded_context_class(context_class)
            context = guarded(self.environment, scope, self.name, self.blocks)
            try:
                return str(self.environment.concat(self.root_render_func(context)))
            except _WholeContextNeeded:
                return str(super().render(given))
            except Exception:
                self.environment.handle_exception()  # raises, as Template.render does

    return PlainText, NamesOnly


def _renders_to_itself(env: Any, compile_string: Any, source: str) -> bool:
    """True when `source` holds no Jinja markup, so it renders to itself in any context."""
    if "\n" in source or "\r" in source:  # Jinja normalises line ends and trailing newlines
        return False
    try:
        body = env.parse(source).body  # after the extensions' preprocessing and filters
        if not all(isinstance(node, nodes.Output) for node in body):
            return False
        children = [child for node in body for child in node.nodes]
        return (
            all(isinstance(child, nodes.TemplateData) for child in children)
            and "".join(child.data for child in children) == source
            and compile_string(source).render() == source  # a str, as this env concatenates
        )
    except Exception:  # not even a template: Copier reports it where it compiles it
        return False


def libyaml_emits_alike(data: object) -> bool:
    """True when libyaml's emitter writes `data` exactly as PyYAML's own emitter does."""
    seen: set[int] = set()

    def alike(value: object) -> bool:
        kind = type(value)
        if kind is str:
            return set(str(value)) <= _PRINTABLE_TEXT
        if kind in (int, float, bool) or value is None:
            return True
        if kind not in (dict, list) or id(value) in seen:  # a second reach is an alias
            return False
        seen.add(id(value))
        if kind is list:
            return all(alike(item) for item in value)  # type: ignore[attr-defined]
        return all(
            type(key) is str
            and 0 < len(key) <= _SHORT_KEY
            and set(key) <= _PRINTABLE_ASCII
            and alike(item)
            for key, item in value.items()  # type: ignore[attr-defined]
        )

    return alike(data)


def _libyaml_nice_yaml(pure: Callable[..., str]) -> Callable[..., str]:
    def to_nice_yaml(data: object, indent: int = 4, *args: Any, **kwargs: Any) -> str:
        sort_keys = kwargs.get("sort_keys", True)
        if (
            args
            or kwargs.keys() - {"sort_keys"}
            or type(indent) is not int
            or type(sort_keys) is not bool
            or not libyaml_emits_alike(data)
        ):
            return pure(data, indent, *args, **kwargs)
        return str(
            yaml.dump(
                data,
                Dumper=yaml.CDumper,
                indent=indent,
                allow_unicode=True,
                default_flow_style=False,
                sort_keys=sort_keys,
            )
        )

    return to_nice_yaml


def _share_nice_yaml(env: Any) -> None:
    try:
        from jinja2_ansible_filters.core_filters import to_nice_yaml
    except ImportError:
        return
    if env.filters.get("to_nice_yaml") is to_nice_yaml and hasattr(yaml, "CDumper"):
        env.filters["to_nice_yaml"] = _libyaml_nice_yaml(to_nice_yaml)


def share_compiled_strings(env: Any) -> None:
    """Make `env` serve every copy of its template version (see the module's docstring).

    Copier's `yield` extension resets its context while compiling; a reused template is
    not compiled again, so the reset is done here, exactly as the extension would.
    """
    from copier._jinja_ext import get_yield_context

    compile_string = env.from_string
    plain_text, names_only = _template_classes()
    compiled: dict[str, Any] = {}
    _share_nice_yaml(env)

    def from_string(source: Any, globals: Any = None, template_class: Any = None) -> Any:
        if globals is not None or template_class is not None:
            return compile_string(source, globals, template_class)
        if not isinstance(source, str):
            if isinstance(source, nodes.Template):
                return compile_string(source)
            # Copier offers every question's value (a bool, a number, a list) to be rendered
            # and takes this error to mean "not a template": Jinja raises it after compiling.
            raise TypeError(_NOT_A_TEMPLATE)
        template = compiled.get(source)
        if template is None:
            if _renders_to_itself(env, compile_string, source):
                template = compile_string(source, None, plain_text)
                template.text = source
            elif (names := names_read(env, source)) is not None:
                template = compile_string(source, None, names_only)
                template.names = names
            else:
                template = compile_string(source)
            compiled[source] = template
        else:
            context = get_yield_context(env)
            context.yield_name = None
            context.yield_iterable = None
        return template

    env.from_string = from_string
