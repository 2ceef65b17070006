"""Answers read exactly as Copier reads them (YAML 1.1); unknown keys refused.

See tests/adversarial/_input.py for the attacker's tools and what was wrong.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from generator.cli import main
from tests.adversarial._input import (
    SERVICE,
    _onboard,
    _web,
    run_cli,
    write_yaml,
)
from tests.helpers import AgeKey, tree_bytes

# ═══ 3. Answers read exactly as Copier reads them (YAML 1.1) ═════════════════════════════════
# Extra answers for `web` in a --data-file; each word means something else in YAML 1.2 (`1e3` a
# float, `0o17` fifteen, `yes`/`on`/`off` strings, `010` ten). Copier takes the first case and
# refuses the others; the CLI must do exactly the same.
DATA_FILE_CASES = {
    "yaml-1.1-words": (
        "image_tag: 1e3\n"
        "env: {A: 1e3, B: 0o17, C: '007'}\n"
        'namespace: "007"\n'
        "port: 010\n"
        'replicas: "2"\n'
        "node_hostname: yes\n"
        "probe_path: /0o17\n"
        "create_missing_clusters: on"
    ),
    "env-value-yes": "env: {A: yes}",
    "env-value-on": "env: {A: on}",
    "node-hostname-tilde": "node_hostname: ~",
    "replicas-0o17": "replicas: 0o17",
    "create-missing-clusters-off": "clusters: [koala, newcluster]\ncreate_missing_clusters: off",
}
# The same words as --data NAME=VALUE, which Copier casts by the question's type.
DATA_FLAG_CASES = {
    "yaml-1.1-words": ["port=010", "image_tag=1e3", "env={A: 0o17}", "create_missing_clusters=off"],
    "env-value-yes": ["env={A: yes}"],
    "replicas-tilde": ["replicas=~"],
}


def _copier_cli(template: Path, destination: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "copier", "copy", "--trust", "--defaults"),
            *("--data", "kind=service", *args, str(template), str(destination)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def twin_infra(infra_repo: Path, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    twin = tmp_path / "twin"
    shutil.copytree(infra_repo, twin, symlinks=True)
    yield infra_repo, twin


def _same_outcome(
    cli: tuple[int, str], copier: subprocess.CompletedProcess[str], ours: Path, theirs: Path
) -> None:
    code, output = cli
    if copier.returncode != 0:
        assert code == 2, (
            f"Copier refused ({copier.stderr.strip().splitlines()[-1:]}); CLI: {output}"
        )
        assert not (ours / "apps/web").exists()
        return
    assert code == 0, f"Copier accepted; CLI said: {output}"
    answers = ".copier-answers.yml"  # the same answers; the order follows the order given
    assert yaml.safe_load((ours / "apps/web" / answers).read_text()) == yaml.safe_load(
        (theirs / "apps/web" / answers).read_text()
    )
    for name in ("deployment.yaml", "configmap.yaml", "kustomization.yaml"):
        mine, copiers = ours / "apps/web" / name, theirs / "apps/web" / name
        assert mine.exists() == copiers.exists(), name
        if mine.exists():
            assert mine.read_bytes() == copiers.read_bytes(), name
    assert tree_bytes(ours / "clusters") == tree_bytes(theirs / "clusters")


@pytest.mark.parametrize("case", sorted(DATA_FILE_CASES))
def test_data_file_answers_mean_what_they_mean_to_copier(
    case: str,
    twin_infra: tuple[Path, Path],
    template_repo: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The CLI and `copier copy --data-file` record identical answers, or both refuse."""
    ours, theirs = twin_infra
    lines = [f"{k}: {json.dumps(v)}" for k, v in SERVICE.items()]
    extra = DATA_FILE_CASES[case]
    keys = {line.split(":", 1)[0] for line in extra.splitlines()}
    text = "\n".join([*(line for line in lines if line.split(":", 1)[0] not in keys), extra])
    data_file = tmp_path / "answers.yml"
    data_file.write_text(text + "\n", encoding="utf-8")
    cli = run_cli(
        _onboard({"infra": ours, "template": template_repo}, "--data-file", str(data_file)),
        capfd,
    )
    copier = _copier_cli(template_repo, theirs / "apps/web", "--data-file", str(data_file))
    _same_outcome(cli, copier, ours, theirs)


@pytest.mark.parametrize("case", sorted(DATA_FLAG_CASES))
def test_data_flags_mean_what_they_mean_to_copier(
    case: str,
    twin_infra: tuple[Path, Path],
    template_repo: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """`--data KEY=VALUE` is cast by the question's type, as `copier copy --data` does."""
    ours, theirs = twin_infra
    base = [f"{k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in SERVICE.items()]
    flags = [item for given in [*base, *DATA_FLAG_CASES[case]] for item in ("--data", given)]
    cli = run_cli(_onboard({"infra": ours, "template": template_repo}, *flags), capfd)
    copier = _copier_cli(template_repo, theirs / "apps/web", *flags)
    _same_outcome(cli, copier, ours, theirs)


# ═══ 4. Unknown keys are refused with a did-you-mean ═════════════════════════════════════════
@pytest.mark.parametrize(
    ("source", "key", "expected"),
    [
        ("--data", "replica", "--data: unknown question 'replica' (did you mean 'replicas'?)"),
        (
            "--data",
            "probe_paht",
            "--data: unknown question 'probe_paht' (did you mean 'probe_path'?)",
        ),
        (
            "--data-file",
            "probe_paht",
            "--data-file: unknown question 'probe_paht' (did you mean 'probe_path'?)",
        ),
        (
            "--data-file",
            "secrets",
            "--data-file: unknown question 'secrets' (did you mean 'secret_keys'?)",
        ),
        ("--data", "zzzz", "--data: unknown question 'zzzz'"),
        ("--data", "_src_path", "--data: '_src_path' is a Copier setting, not a question"),
        ("--data-file", "_copier_python", "--data-file: '_copier_python' is a Copier setting"),
        ("--data", "_commit", "--data: '_commit' is a Copier setting, not a question"),
    ],
)
def test_an_unknown_answer_is_refused_with_a_suggestion(
    source: str,
    key: str,
    expected: str,
    infra_repo: Path,
    template_repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`replica=2` was dropped without a word and the service ran with 1 replica."""
    before = tree_bytes(infra_repo)
    if source == "--data":
        extra = ["--data", f"{key}=2"]
    else:
        extra = ["--data-file", str(write_yaml(tmp_path / "a.yml", {**SERVICE, key: "2"}))]
    code = main(
        _onboard(
            {"infra": infra_repo, "template": template_repo},
            *_web(),
            "--service",
            "web",
            "--clusters",
            "koala",
            *extra,
        )
    )
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"gitops-onboard: error: {expected}"), err
    assert tree_bytes(infra_repo) == before


def test_init_refuses_an_unknown_answer_too(
    template_repo: Path, tmp_path: Path, age_key: AgeKey, capsys: pytest.CaptureFixture[str]
) -> None:
    destination = tmp_path / "infra"
    code = main(
        [
            "init",
            "--template",
            str(template_repo),
            "--clusters",
            "koala",
            "--age-recipient",
            age_key.public,
            "-d",
            "check_runer=ubuntu-latest",
            str(destination),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == (
        "gitops-onboard: error: --data: unknown question 'check_runer' "
        "(did you mean 'check_runner'?)"
    )
    assert not destination.exists()
