"""The template as it sits on disk, rendered with pytest-copie over the real choices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.age import generate
from generator.answers import questions
from generator.spec import ServiceSpec
from tests.helpers import PROJECT, build_and_validate

COPIER_YML: dict[str, Any] = yaml.safe_load((PROJECT / "copier.yml").read_text())
QUESTIONS = {k: v for k, v in COPIER_YML.items() if not k.startswith("_")}


def choices(question: str) -> list[str]:
    values = QUESTIONS[question]["choices"]
    return list(values.values()) if isinstance(values, dict) else list(values)


SERVICE_ANSWERS = {
    "kind": "service",
    "service": "web",
    "registry": "gitea.example.com",
    "owner": "team",
    "clusters": ["koala"],
}
AGE_PUBLIC_KEY = generate().public
KIND_ANSWERS: dict[str, dict[str, Any]] = {
    "infra": {"kind": "infra", "clusters": ["koala", "iguana"], "age_recipients": [AGE_PUBLIC_KEY]},
    "service": SERVICE_ANSWERS,
}


def rendered_yaml(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]


def prepare_infra_root(copie: Any) -> Path:
    """The copies land in copie.test_dir/copieNNN: make its parent an infra repo root.

    copie/copieNNN then sits where apps/<service> does, two levels below the root, so the
    service kustomization's ../../pull-secrets/<name> resolves.
    """
    root: Path = copie.test_dir.parent
    cluster = root / "clusters/koala"
    cluster.mkdir(parents=True, exist_ok=True)
    (cluster / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    )
    # What the infra kind stamps: the task encrypts the pull secret placeholder with it.
    (root / ".sops.yaml").write_text(
        "creation_rules:\n  - path_regex: \\.enc\\.yaml$\n"
        "    encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n"
        f"    age: [{AGE_PUBLIC_KEY}]\n"
    )
    return root


@pytest.mark.parametrize("kind", [k for k in choices("kind") if k in KIND_ANSWERS])
def test_every_kind_renders_yaml_that_parses(kind: str, copie: Any, template_repo: Path) -> None:
    prepare_infra_root(copie)
    result = copie.copy(extra_answers=KIND_ANSWERS[kind], template_dir=template_repo)
    assert result.exit_code == 0, result.exception
    files = rendered_yaml(result.project_dir)
    assert files
    for path in files:
        assert yaml.safe_load(path.read_text()) is not None, path


@pytest.mark.parametrize("volume_type", choices("volume_type"))
def test_every_volume_type_builds_and_validates(
    volume_type: str, copie: Any, template_repo: Path
) -> None:
    root = prepare_infra_root(copie)
    answers = {**SERVICE_ANSWERS, "volume_type": volume_type, "volume_mount_path": "/data"}
    result = copie.copy(extra_answers=answers, template_dir=template_repo)
    assert result.exit_code == 0, result.exception
    objects = build_and_validate(root / "clusters/koala")
    kinds = sorted(o["kind"] for o in objects)
    # Secret: the shared registry pull secret (image_pull_secret defaults to one).
    # NetworkPolicy: network_policy defaults to on.
    expected = ["Deployment", "NetworkPolicy", "Namespace", "Secret", "Service"]
    if volume_type == "pvc":
        expected.append("PersistentVolumeClaim")
    assert kinds == sorted(expected)
    pod = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    volumes = [v["name"] for v in pod["volumes"]]
    # tmp: the root filesystem is read-only by default, /tmp is an emptyDir.
    assert volumes == (["tmp"] if volume_type == "none" else ["state", "tmp"])


def test_every_question_has_help_and_a_type() -> None:
    for name, question in QUESTIONS.items():
        assert question.get("help"), f"{name} has no help text"
        assert question.get("type"), f"{name} has no type"


def test_typed_answers_match_copier_yml() -> None:
    """The CLI reads and casts answers by the questions and types of this copier.yml."""
    assert questions() == {name: question["type"] for name, question in QUESTIONS.items()}


@pytest.mark.parametrize("volume_type", choices("volume_type"))
def test_spec_defaults_are_copier_defaults(
    volume_type: str, copie: Any, template_repo: Path
) -> None:
    """Validating before Copier runs sees the same defaults Copier applies."""
    prepare_infra_root(copie)
    answers = {**SERVICE_ANSWERS, "volume_type": volume_type}
    result = copie.copy(extra_answers=answers, template_dir=template_repo)
    assert result.exit_code == 0, result.exception
    recorded = yaml.safe_load((result.project_dir / ".copier-answers.yml").read_text())
    assert ServiceSpec.from_answers(answers) == ServiceSpec.from_answers(recorded)


def test_no_question_takes_a_secret_value() -> None:
    """Secret values never pass through Copier: they reach sops on stdin (secrets set)."""
    assert [name for name, question in QUESTIONS.items() if question.get("secret")] == []
