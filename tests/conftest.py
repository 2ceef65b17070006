"""Fixtures that keep every test out of $HOME, the user's git config and the network."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from generator.age import generate, write_key_file
from generator.onboard import init_infra
from tests.helpers import AgeKey, commit_all, git, snapshot_template

# Property tests: 300 derandomized examples each in CI (the same inputs on every run, so a
# failure is never a matter of luck), 150 random ones on a workstation, and 2000 random ones
# under "thorough", for a deeper search now and then (`make pytest HYPOTHESIS_PROFILE=
# thorough`). The profile is HYPOTHESIS_PROFILE when set, else "ci" when CI is set (CI=true),
# else "dev". A test that names its own max_examples (one that onboards a service per
# example) keeps that count.
settings.register_profile(
    "ci", derandomize=True, max_examples=300, deadline=None, database=None, print_blob=True
)
settings.register_profile("dev", max_examples=150, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None, print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("ci" if os.environ.get("CI", "").lower() not in ("", "0", "false", "no") else "dev")
)

# The tiers, by folder: `pytest -m unit` (or `make test-unit`) runs one of them.
TIERS = ("unit", "story", "adversarial")


# Heaviest files first. Under `--dist loadfile` a file is dealt out whole, so a long file
# dealt out last keeps one core busy while the others idle. FILE_SECONDS holds each file's
# seconds from a whole run (`make test-file-seconds` records it again); a file it does not
# know yet counts as NEW_FILE_SECONDS. The order within a file stays as written.
FILE_SECONDS = Path(__file__).parent / "file_seconds.json"
NEW_FILE_SECONDS = 10.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-file-seconds",
        action="store_true",
        help=f"write each test file's seconds in this run to {FILE_SECONDS.name}",
    )


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier (its folder under tests/); order files heaviest first."""
    for item in items:
        parts = item.path.relative_to(Path(__file__).parent).parts
        if len(parts) > 1 and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))
    recorded = json.loads(FILE_SECONDS.read_text()) if FILE_SECONDS.is_file() else {}
    items.sort(key=lambda item: -recorded.get(_file_of(item.nodeid), NEW_FILE_SECONDS))


_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Under xdist this runs in the controller too, for every worker's reports.
    file = _file_of(report.nodeid)
    _seconds[file] = _seconds.get(file, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if config.getoption("record_file_seconds") and not hasattr(config, "workerinput"):
        ordered = {file: round(s, 1) for file, s in sorted(_seconds.items())}
        FILE_SECONDS.write_text(json.dumps(ordered, indent=1) + "\n")


_LEAKY = (
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_RECIPIENTS",
    "SOPS_CONFIG",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "COPIER_SETTINGS_PATH",
)


@pytest.fixture(autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_hermetic(tmp_path_factory.mktemp("home"), monkeypatch)


def make_hermetic(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME, XDG folders and git config at `home`; drop SOPS_* and git variables."""
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        '[protocol "file"]\n\tallow = always\n'
        # No `git maintenance run --auto` after each of the suite's thousands of commits.
        "[maintenance]\n\tauto = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    for name in _LEAKY:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("SOPS_")]:
        monkeypatch.delenv(name)
    return home


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The template on disk, committed and tagged v1.0.0 in a throwaway repo."""
    old = {k: os.environ.get(k) for k in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")}
    cfg = tmp_path_factory.mktemp("gitcfg") / "config"
    cfg.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n[maintenance]\n\tauto = false\n"
    )
    os.environ["GIT_CONFIG_GLOBAL"] = str(cfg)
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    try:
        yield snapshot_template(tmp_path_factory.mktemp("template"), "v1.0.0")
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def age_key(tmp_path_factory: pytest.TempPathFactory) -> AgeKey:
    """One throwaway age key pair for the session; the private key in a 0600 file."""
    pair = generate()
    path = tmp_path_factory.mktemp("agekey") / "keys.txt"
    write_key_file(path, pair.key_file_text)
    return AgeKey(pair.public, pair.key_file_text, path)


@pytest.fixture
def age_private_key(age_key: AgeKey, monkeypatch: pytest.MonkeyPatch) -> AgeKey:
    """The session key, offered to sops through SOPS_AGE_KEY_FILE for this test."""
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(age_key.path))
    return age_key


@pytest.fixture(scope="session")
def pristine_infra(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, age_key: AgeKey
) -> Path:
    """One stamped infra repo (clusters koala and iguana; recipient `age_key`), read only.

    Copied by `infra_repo`.
    """
    root = tmp_path_factory.mktemp("pristine") / "infra"
    root.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("pristine-home"), mp)
        git("init", "-q", "-b", "main", cwd=root)
        init_infra(
            root,
            ["koala", "iguana"],
            str(template_repo),
            extra={"age_recipients": [age_key.public]},
        )
        commit_all(root, "stamp infra")
    return root


@pytest.fixture
def infra_repo(tmp_path: Path, pristine_infra: Path) -> Path:
    """A committed infra repo stamped with clusters koala and iguana (a private copy)."""
    root = tmp_path / "infra"
    shutil.copytree(pristine_infra, root, symlinks=True)
    return root


@pytest.fixture(scope="session")
def app_world(
    tmp_path_factory: pytest.TempPathFactory, template_repo: Path, pristine_infra: Path
) -> Any:
    """Three stamped app repos (reference, Python, Node) and their infra remote on disk."""
    from tests.app_world import build_world

    with pytest.MonkeyPatch.context() as mp:
        make_hermetic(tmp_path_factory.mktemp("app-world-home"), mp)
        return build_world(tmp_path_factory.mktemp("app-world"), template_repo, pristine_infra)
