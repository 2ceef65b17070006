"""copier.yml parsed once per process (`generator.copier_run.config_cache`).

Each test counts the parses PyYAML really makes (`yaml.load_all`, which Copier's loader
calls) while the cache is installed in Copier.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from copier import _template
from copier.errors import InvalidConfigFileError

from generator.copier_run import config_cache

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The files PyYAML parses while the test runs; the cache starts empty and installed."""
    config_cache.parse_configs_once()
    config_cache.clear()
    seen: list[str] = []
    real = yaml.load_all

    def counting(stream: Any, Loader: Any) -> Any:
        seen.append(getattr(stream, "name", "<text>"))
        return real(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "load_all", counting)
    yield seen
    config_cache.clear()


def load(path: Path) -> dict[str, Any]:
    loader: Callable[[Path], dict[str, Any]] = _template.load_template_config
    return loader(path)


def uncached(path: Path) -> dict[str, Any]:
    loader: Callable[[Path], dict[str, Any]] = _template.load_template_config.__wrapped__
    return loader(path)


def template_copy(tmp_path: Path, name: str = "template") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(ROOT / "copier.yml", folder / "copier.yml")
    return folder / "copier.yml"


def test_a_second_load_of_the_same_bytes_parses_nothing(parses: list[str], tmp_path: Path) -> None:
    first = load(template_copy(tmp_path, "a"))
    second = load(template_copy(tmp_path, "b"))  # another clone, same bytes
    assert len(parses) == 1
    assert first == second == uncached(ROOT / "copier.yml")
    assert first["service"] is not second["service"]


def test_each_load_gets_its_own_copy(parses: list[str], tmp_path: Path) -> None:
    path = template_copy(tmp_path)
    expected = uncached(path)
    parses.clear()
    for _ in range(3):  # the parse, then two copies of what it gave
        config = load(path)
        assert config == expected
        config["_tasks"].clear()
        config["service"]["help"] = "changed by a caller"
        del config["kind"]
    assert len(parses) == 1


def test_other_bytes_are_parsed_anew(parses: list[str], tmp_path: Path) -> None:
    path = template_copy(tmp_path)
    load(path)
    path.write_text(
        path.read_text().replace('_min_copier_version: "9.4.0"', '_min_copier_version: "9.5.0"')
    )
    assert load(path)["_min_copier_version"] == "9.5.0"
    assert len(parses) == 2


def test_a_file_with_an_include_is_parsed_each_time(parses: list[str], tmp_path: Path) -> None:
    (tmp_path / "copier.yml").write_text("---\n!include more.yml\n---\nname:\n  type: str\n")
    (tmp_path / "more.yml").write_text("port:\n  type: int\n  default: 80\n")
    assert load(tmp_path / "copier.yml")["port"]["default"] == 80
    (tmp_path / "more.yml").write_text("port:\n  type: int\n  default: 8080\n")
    assert load(tmp_path / "copier.yml")["port"]["default"] == 8080
    assert len([p for p in parses if p.endswith("copier.yml")]) == 2


def test_a_bad_file_is_reported_each_time_with_its_own_path(
    parses: list[str], tmp_path: Path
) -> None:
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "copier.yml").write_text("name: [unclosed\n")
        with pytest.raises(InvalidConfigFileError) as error:
            load(folder / "copier.yml")
        assert str(folder / "copier.yml") in str(error.value)
    (tmp_path / "a/copier.yml").write_text("name: closed\n")
    assert load(tmp_path / "a/copier.yml") == {"name": "closed"}
    assert len(parses) == 3


def test_the_oldest_file_makes_room(
    parses: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config_cache, "MAX_ENTRIES", 2)
    paths = []
    for index in range(3):
        path = tmp_path / f"{index}.yml"
        path.write_text(f"q{index}:\n  type: str\n")
        paths.append(path)
        load(path)
    load(paths[2])
    load(paths[1])
    assert len(parses) == 3
    load(paths[0])
    assert len(parses) == 4


def test_copier_templates_share_the_parse_and_installing_twice_wraps_once(
    parses: list[str], tmp_path: Path
) -> None:
    config_cache.parse_configs_once()
    wrapped = _template.load_template_config.__wrapped__
    assert not getattr(wrapped, "_gitops_parses_once", False)
    folders = [template_copy(tmp_path, name).parent for name in ("a", "b")]
    configs = [_template.Template(url=str(folder)).config_data for folder in folders]
    assert configs[0] == configs[1]
    assert configs[0]["answers_file"] == ".copier-answers.yml"
    assert len(parses) == 1
