"""Which template sources may run here: the allow-list at the root of the repo.

Copier runs a template's tasks and migrations with `--trust`, and a copy is updated from
whatever its answers file records in `_src_path`: data that a pull request can change like
any answer. So a source runs only when the repository holding the copy allows it, in
`.gitops-onboard.yaml` at its root (the infra repo's root, or an app repo's root):

    # .gitops-onboard.yaml
    allowed_sources:
      - https://gitea.example.com/platform/gitops-onboard.git

The first copy stamped into a repository through gitops-onboard (`init`, the app side of
`onboard --app-repo`) records its template there; `gitops-onboard template allow|deny`
edits the list. A repository stamped before the list existed allows the one source its root
answers file records, until a list is recorded.

Sources are compared after normalising how they are written: Copier's `gh:`/`gl:`
shortcuts, `git+`, a trailing slash or `.git`, `file://`, a local path resolved (symlinks
too). Nothing else is loosened: a host must match exactly.

Only a `.gitops-onboard.yaml` at the repository's root counts; one planted in a service
folder is ignored.

Example::

    listing = allow_list(Path("infra/apps/web"))
    listing.allows("https://gitea.example.com/platform/gitops-onboard")
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from generator.answers import ANSWERS_FILE, load_answers, parse_recorded
from generator.errors import InputError
from generator.fsutil import write_atomic
from generator.yamltext import new_yaml

__all__ = [
    "CONFIG_FILE",
    "KEY",
    "AllowList",
    "ListChange",
    "UntrustedSourceError",
    "allow",
    "allow_list",
    "deny",
    "load_hand_made",
    "normalize",
    "read_config",
    "record_first_stamp",
    "repo_root",
    "require_allowed",
    "root_template",
    "set_sources",
    "stored_form",
    "untrusted",
]

CONFIG_FILE = ".gitops-onboard.yaml"
KEY = "allowed_sources"
# Copier's own shortcuts (copier._vcs), expanded exactly as Copier expands them.
_ALIASES = {"gh:": "https://github.com", "gl:": "https://gitlab.com"}
_SCP = re.compile(r"^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:(?!//)")
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_HEADER = (
    "# Template sources gitops-onboard may run in this repository (Copier runs their tasks\n"
    "# with --trust). Edit with `gitops-onboard template allow|deny SRC`.\n"
)


def _is_remote(text: str) -> bool:
    return "://" in text or bool(_SCP.match(text))


def _expand(source: str) -> str:
    text = source.strip()
    for alias, host in _ALIASES.items():
        if text.startswith(alias):
            text = f"{host}/{text[len(alias) :].lstrip('/')}"
            break
    text = text.removeprefix("git+")
    if text.startswith("file://"):
        text = unquote(text[len("file://") :])
    return text


def normalize(source: str, *, base: Path) -> str:
    """`source` in one canonical spelling; a relative local path is taken from `base`."""
    text = _expand(source)
    if _is_remote(text):
        text = text.rstrip("/")
        return text.removesuffix(".git").rstrip("/")
    path = Path(text).expanduser()
    path = (path if path.is_absolute() else base / path).resolve()
    if path.name == ".git":
        path = path.parent
    return path.as_posix()


def stored_form(source: str, *, base: Path) -> str:
    """How a source is written into the list: a local path absolute, a URL as given."""
    text = source.strip()
    return text if _is_remote(_expand(text)) else normalize(text, base=base)


def _marks_root(folder: Path) -> bool:
    return (
        (folder / CONFIG_FILE).is_file()
        or (folder / "clusters").is_dir()
        or (folder / ANSWERS_FILE).is_file()
    )


def repo_root(folder: Path) -> Path:
    """The root whose allow-list governs copies in `folder`.

    Inside git: the outermost folder up to the work tree's top that holds a
    `.gitops-onboard.yaml`, a `clusters/` folder or an answers file (the top itself when
    none does), so a file planted deeper never wins. Outside git: the nearest folder with
    `clusters/`, else `folder` itself.
    """
    folder = folder.absolute()
    chain = [folder, *folder.parents]
    top = next((f for f in chain if (f / ".git").exists()), None)
    if top is not None:
        marked = [f for f in chain[: chain.index(top) + 1] if _marks_root(f)]
        return (marked[-1] if marked else top).resolve()
    with_clusters = next((f for f in chain if (f / "clusters").is_dir()), None)
    return (with_clusters or folder).resolve()


def read_config(root: Path) -> Mapping[str, Any]:
    """The mapping in `root/.gitops-onboard.yaml` (empty when there is no file)."""
    path = root / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        config = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(CONFIG_FILE, f"must be a readable YAML file ({first})") from None
    if not isinstance(config, Mapping):
        raise InputError(CONFIG_FILE, "must be a YAML mapping")
    return config


def _stamped_source(root: Path) -> str | None:
    try:
        answers = parse_recorded((root / ANSWERS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    source = answers.get("_src_path") if isinstance(answers, dict) else None
    return str(source) if source else None


@dataclass(frozen=True)
class AllowList:
    """The template sources allowed in the repository at `root`.

    `recorded` is False when `.gitops-onboard.yaml` lists none and the list is the default:
    the source the root's answers file records (or nothing).
    """

    root: Path
    sources: tuple[str, ...]
    recorded: bool

    @property
    def file(self) -> Path:
        """Where the list is (or would be) recorded."""
        return self.root / CONFIG_FILE

    def allows(self, source: str, *, extra: Iterable[str] = (), cwd: Path | None = None) -> bool:
        """True when `source` is on the list or among `extra` (given on the command line)."""
        here = cwd or Path.cwd()
        wanted = normalize(source, base=here)
        # A recorded relative path is relative to the repo; a default one, like Copier's
        # `_src_path`, to where the command runs.
        base = self.root if self.recorded else here
        known = {normalize(s, base=base) for s in self.sources}
        return wanted in known or wanted in {normalize(s, base=here) for s in extra}

    def describe(self) -> str:
        """Where the list comes from and what it holds, for messages."""
        shown = ", ".join(self.sources[:3]) + (", ..." if len(self.sources) > 3 else "")
        if self.recorded:
            return f"{KEY} in {self.file}: {shown or 'none'}"
        if self.sources:
            return f"no {KEY} in {self.file}; by default only the root's source: {shown}"
        return f"no {KEY} in {self.file} and no stamped root"


def allow_list(folder: Path) -> AllowList:
    """The allow-list governing copies in `folder`."""
    root = repo_root(folder)
    config = read_config(root)
    if KEY in config:
        listed = config[KEY]
        if not isinstance(listed, list) or not all(
            isinstance(item, str) and item.strip() for item in listed
        ):
            raise InputError(
                f"{CONFIG_FILE}: {KEY}", "must be a list of template sources (git URLs or paths)"
            )
        return AllowList(root, tuple(item.strip() for item in listed), True)
    default = _stamped_source(root)
    return AllowList(root, (default,) if default else (), False)


class UntrustedSourceError(InputError):
    """A copy would run a template that is not on its repository's allow-list."""

    def __init__(self, where: str, source: str, listing: AllowList, more: int = 0) -> None:
        self.source = source
        self.listing = listing
        rule = (
            f"template source {source} is not on the allow-list ({listing.describe()}); "
            f"Copier was not started. If you trust it: `gitops-onboard template allow "
            f"{source} --repo {listing.root}`, or pass --allow-source {source} for one run"
        )
        if more:
            rule += f" ({more} more {'copy' if more == 1 else 'copies'}: gitops-onboard check)"
        super().__init__(where, rule)


def require_allowed(
    source: str,
    folder: Path,
    *,
    where: str,
    extra: Sequence[str] = (),
    stamping: bool = False,
) -> bool:
    """Refuse `source` unless the repo holding `folder` allows it; True for a first stamp.

    `stamping` is a new copy whose template the user named: into a repository that has no
    list and no stamped root yet it is allowed, and `record_first_stamp` records it.
    """
    listing = allow_list(folder)
    if stamping and not listing.recorded and not listing.sources:
        return True
    if not listing.allows(source, extra=extra):
        raise UntrustedSourceError(where, source, listing)
    return False


def root_template(
    root: Path, template: str | None, *, extra: Sequence[str] = (), stamping: bool = False
) -> str:
    """The template to stamp a service of the infra repo at `root` from, refused unless allowed.

    `template` is the one named on the command line; without it, the one the repo's root
    copy records. `extra` and `stamping` are as for `require_allowed`.
    """
    answers = root / ANSWERS_FILE
    recorded = load_answers(answers).get("_src_path") if answers.is_file() else None
    source = template or (str(recorded) if recorded else None)
    if source is None:
        raise InputError(
            "template", f"{answers} records no template; pass --template (a git URL or path)"
        )
    where = "--template" if template else f"{answers} (_src_path)"
    require_allowed(source, root, where=where, extra=extra, stamping=stamping)
    return source


class _Copy(Protocol):
    @property
    def folder(self) -> Path: ...

    @property
    def answers_file(self) -> str: ...

    @property
    def src_path(self) -> str: ...


_C = TypeVar("_C", bound=_Copy)


def untrusted(copies: Iterable[_C], extra: Sequence[str] = ()) -> list[tuple[_C, AllowList]]:
    """The copies whose recorded source their repository does not allow, with its list."""
    lists: dict[Path, AllowList] = {}
    found = []
    for copy in copies:
        root = repo_root(copy.folder)
        listing = lists.get(root)
        if listing is None:
            listing = lists[root] = allow_list(copy.folder)
        if not listing.allows(copy.src_path, extra=extra):
            found.append((copy, listing))
    return found


def _rt() -> YAML:
    rt = new_yaml("rt", preserve_quotes=True, width=4096)
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _load_rt(text: str) -> CommentedMap:
    try:
        doc = _rt().load(text) if text.strip() else None
    except YAMLError as error:
        raise InputError(CONFIG_FILE, f"must be a readable YAML file ({error})") from None
    if doc is None:
        return CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise InputError(CONFIG_FILE, "must be a YAML mapping")
    return doc


def _dump(doc: CommentedMap, text: str) -> str:
    out = io.StringIO()
    _rt().dump(doc, out)
    dumped = out.getvalue()
    return dumped if text.strip() else _HEADER + dumped


def set_sources(text: str, sources: Sequence[str]) -> str:
    """`text` of `.gitops-onboard.yaml` whose `allowed_sources` is exactly `sources`.

    Entries that stay keep their place and comments; new ones are appended in order; every
    other key of the file is left as it is.
    """
    doc = _load_rt(text)
    listed = doc.get(KEY)
    if isinstance(listed, list):
        for index in reversed(range(len(listed))):
            if listed[index] not in sources:
                del listed[index]
        listed.extend(s for s in sources if s not in listed)
    else:
        doc[KEY] = CommentedSeq(sources)
    return _dump(doc, text)


def record_first_stamp(folder: Path, source: str) -> Path:
    """Record `source` as the allow-list of the repository just stamped at `folder`."""
    listing = allow_list(folder)
    path = listing.file
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    write_atomic(path, set_sources(text, [stored_form(source, base=Path.cwd())]))
    return path


@dataclass(frozen=True)
class ListChange:
    """What `allow` or `deny` did to a repository's allow-list."""

    file: Path
    changed: bool
    sources: tuple[str, ...]


def _record(listing: AllowList, sources: Sequence[str]) -> None:
    path = listing.file
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    write_atomic(path, set_sources(text, sources))


def _current(listing: AllowList, here: Path) -> list[str]:
    """The list as it would be recorded (a default source made absolute, like Copier's)."""
    if listing.recorded:
        return list(listing.sources)
    return [stored_form(s, base=here) for s in listing.sources]


def allow(folder: Path, source: str, *, cwd: Path | None = None) -> ListChange:
    """Add `source` to the allow-list of the repository holding `folder`.

    A list not recorded yet is recorded, the root's default source kept on it.
    """
    here = cwd or Path.cwd()
    if not source.strip() or any(ord(c) < 32 for c in source):
        raise InputError("SRC", "must be a git URL or a path, on one line", source)
    listing = allow_list(folder)
    if listing.recorded and listing.allows(source, cwd=here):
        return ListChange(listing.file, False, listing.sources)
    wanted = _current(listing, here)
    if not listing.allows(source, cwd=here):
        wanted.append(stored_form(source, base=here))
    _record(listing, wanted)
    return ListChange(listing.file, True, tuple(wanted))


def deny(folder: Path, source: str, *, cwd: Path | None = None) -> ListChange:
    """Take `source` (however it is written) off the allow-list of the repo holding `folder`."""
    here = cwd or Path.cwd()
    listing = allow_list(folder)
    if not listing.allows(source, cwd=here):
        return ListChange(listing.file, False, listing.sources)
    wanted = normalize(source, base=here)
    base = listing.root if listing.recorded else here
    keep = [s for s in _current(listing, here) if normalize(s, base=base) != wanted]
    _record(listing, keep)
    return ListChange(listing.file, True, tuple(keep))


def load_hand_made(root: Path) -> set[str]:
    """The `hand_made` folders of `.gitops-onboard.yaml` (paths relative to the infra root)."""
    listed = read_config(root).get("hand_made") or []
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise InputError(f"{CONFIG_FILE}: hand_made", "must be a list of folder paths")
    return {item.strip().strip("/") for item in listed}
