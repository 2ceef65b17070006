"""generator.sources: which template a service is stamped from, and whether it may run."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.errors import InputError
from generator.sources import UntrustedSourceError, root_template

OURS = "https://gitea.example.com/platform/gitops-onboard.git"


def stamped_root(root: Path, source: str | None) -> Path:
    root.mkdir()
    (root / "clusters").mkdir()
    lines = ["kind: infra"] + ([f"_src_path: {source}"] if source else [])
    (root / ".copier-answers.yml").write_text("\n".join(lines) + "\n")
    return root


def test_without_a_named_template_the_root_copys_is_used(tmp_path: Path) -> None:
    assert root_template(stamped_root(tmp_path / "infra", OURS), None) == OURS


def test_a_root_that_records_none_and_no_named_template_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as refused:
        root_template(stamped_root(tmp_path / "infra", None), None)
    assert refused.value.field == "template" and "--template" in str(refused.value)


def test_a_named_template_the_repo_does_not_allow_is_refused_unless_allowed_for_the_run(
    tmp_path: Path,
) -> None:
    root = stamped_root(tmp_path / "infra", OURS)
    other = "https://gitea.example.com/someone/fork.git"
    with pytest.raises(UntrustedSourceError) as refused:
        root_template(root, other)
    assert refused.value.field == "--template"
    assert root_template(root, other, extra=[other]) == other


def test_a_first_stamp_may_name_its_template(tmp_path: Path) -> None:
    root = tmp_path / "infra"
    root.mkdir()
    (root / "clusters").mkdir()
    assert root_template(root, OURS, stamping=True) == OURS
    with pytest.raises(InputError):
        root_template(root, None, stamping=True)
