"""The documentation builds in strict mode and documents every question and option."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import PROJECT

BIN = Path(sys.executable).parent


def mkdocs_build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    result = mkdocs_build(PROJECT, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site/reference/questions/index.html").is_file()


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy2(PROJECT / "mkdocs.yml", copy)
    shutil.copytree(PROJECT / "docs", copy / "docs")
    (copy / "docs/index.md").write_text("# x\n\n[gone](no-such-page.md)\n")
    result = mkdocs_build(copy, tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-page.md" in result.stderr


def test_reference_pages_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT / "scripts/gen_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_question_and_option_is_in_the_reference() -> None:
    import yaml

    from generator.cli import build_parser

    questions = (PROJECT / "docs/reference/questions.md").read_text()
    for name in yaml.safe_load((PROJECT / "copier.yml").read_text()):
        if not name.startswith("_"):
            assert f"\n## `{name}`\n" in questions, name
    cli = (PROJECT / "docs/reference/cli.md").read_text()
    parser = build_parser()
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for command, sub in action.choices.items():
            assert f"`gitops-onboard {command}`" in cli
            for option in sub._actions:
                if option.option_strings and option.dest != "help":
                    assert option.help, f"{command} {option.option_strings} has no help"
                    assert f"`{option.option_strings[-1]}`" in cli


def test_placeholders_survive_into_the_built_pages(tmp_path: Path) -> None:
    """`clusters/<c>/` in a command's description is text in the browser, not an HTML tag."""
    result = mkdocs_build(PROJECT, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    cli = (tmp_path / "site/reference/cli/index.html").read_text(encoding="utf-8")
    assert "clusters/&lt;c&gt;/kustomization.yaml" in cli
    assert "<c>" not in cli
    questions = (tmp_path / "site/reference/questions/index.html").read_text(encoding="utf-8")
    assert "&lt;registry&gt;/&lt;owner&gt;/&lt;service&gt;" in questions


def test_the_navigation_lists_every_page_in_reading_order() -> None:
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    nav = yaml.load((PROJECT / "mkdocs.yml").read_text(encoding="utf-8"), _Loader)["nav"]
    sections = [next(iter(item)) for item in nav]
    assert sections == [
        "Home",
        "Getting started",
        "Tutorial",
        "How-to",
        "Reference",
        "Explanation",
    ]

    def pages(items: list[object]) -> set[str]:
        found: set[str] = set()
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            found |= pages(value) if isinstance(value, list) else {str(value)}
        return found

    on_disk = {p.relative_to(PROJECT / "docs").as_posix() for p in (PROJECT / "docs").rglob("*.md")}
    assert pages(nav) == on_disk
