"""Bad input, as a corpus: one invalid answers file or cluster file per rule.

Every case must give one clear line naming the field and the rule, a non-zero exit (2 for
the CLI) and leave every byte of the infra repo as it was — through the CLI and through a
plain `copier copy --trust`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from copier import run_copy
from copier.errors import TaskError
from ruamel.yaml import YAML

from generator.cli import main
from tests.helpers import PROJECT, tree_bytes

CORPUS = PROJECT / "tests/corpus"
ANSWER_CASES = sorted((CORPUS / "service_answers").glob("*.yml"))
CLUSTER_CASES = sorted((CORPUS / "cluster_files").glob("*.yaml"))
VALID = {"service": "web", "registry": "gitea.example.com", "owner": "team", "clusters": ["koala"]}


def expected_error(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# error: "), f"{path.name} must start with '# error: ...'"
    return first.removeprefix("# error: ")


def load(path: Path) -> dict[str, Any]:
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def onboard_cli(infra: Path, template: Path, *extra: str) -> int:
    return main(["onboard", "--infra", str(infra), "--template", str(template), *extra])


def test_the_corpus_covers_every_rule_of_the_issue() -> None:
    names = {p.stem for p in ANSWER_CASES} | {p.stem for p in CLUSTER_CASES}
    for required in (
        "service-uppercase",
        "service-underscore",
        "service-leading-digit",
        "service-over-63-chars",
        "port-zero",
        "port-over-65535",
        "env-name-with-dash",
        "clusters-empty",
        "not-valid-yaml",
        "resources-not-a-list",
        "host-not-a-dns-name",
        "expose-without-hosts",
        "tls-secret-without-tls-secret",
        "min-replicas-above-max-replicas",
        "cpu-target-percent-above-100",
        "ingress-class-not-a-name",
        "cluster-overrides-unknown-cluster",
        "cluster-overrides-unknown-key",
        "cluster-overrides-env-value-not-a-string",
    ):
        assert required in names


@pytest.mark.parametrize("case", ANSWER_CASES, ids=lambda p: p.stem)
def test_cli_rejects_bad_answers(
    case: Path, infra_repo: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_bytes(infra_repo)
    code = onboard_cli(infra_repo, template_repo, "--data-file", str(case))
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("gitops-onboard: error: ")
    assert expected_error(case) in err
    assert tree_bytes(infra_repo) == before


@pytest.mark.parametrize("case", ANSWER_CASES, ids=lambda p: p.stem)
def test_plain_copier_rejects_bad_answers(
    case: Path, infra_repo: Path, template_repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    before = tree_bytes(infra_repo)
    answers = load(case)
    with pytest.raises(Exception) as raised:
        run_copy(
            str(template_repo),
            infra_repo / "apps" / str(answers["service"]),
            data={**answers, "kind": "service"},
            defaults=True,
            unsafe=True,
            quiet=True,
        )
    output = str(raised.value) + capfd.readouterr().err
    rule = expected_error(case).split(": ", 1)[1]
    assert rule in output
    assert tree_bytes(infra_repo) == before


@pytest.mark.parametrize("case", CLUSTER_CASES, ids=lambda p: p.stem)
def test_a_broken_cluster_kustomization_stops_onboarding(
    case: Path, infra_repo: Path, template_repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (infra_repo / "clusters/koala/kustomization.yaml").write_bytes(case.read_bytes())
    before = tree_bytes(infra_repo)
    code = onboard_cli(
        infra_repo,
        template_repo,
        "-d",
        "service=web",
        "-d",
        "registry=gitea.example.com",
        "-d",
        "owner=team",
        "-d",
        "clusters=[koala, iguana]",
    )
    err = capfd.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and expected_error(case) in err
    assert tree_bytes(infra_repo) == before

    # Plain Copier: the task fails after rendering; the new folder is removed again and the
    # cluster that was fine (iguana) is not left half-registered.
    with pytest.raises(TaskError):
        run_copy(
            str(template_repo),
            infra_repo / "apps/web",
            data={**VALID, "clusters": ["iguana", "koala"], "kind": "service"},
            defaults=True,
            unsafe=True,
            quiet=True,
        )
    assert expected_error(case) in capfd.readouterr().err
    assert tree_bytes(infra_repo) == before


def test_bad_data_flags_are_rejected(
    infra_repo: Path, template_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_bytes(infra_repo)
    assert onboard_cli(infra_repo, template_repo, "-d", "port=eighty") == 2
    assert "port: must be an integer" in capsys.readouterr().err
    assert onboard_cli(infra_repo, template_repo, "-d", "novalue") == 2
    assert "--data: must be KEY=VALUE" in capsys.readouterr().err
    assert tree_bytes(infra_repo) == before
