"""Interactive `copier copy` (no --data) in a real terminal: every question has a default
except the ones only the user can answer, and the result is registered and builds."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import yaml

from tests.helpers import PROJECT, build_and_validate

QUESTIONS = {
    name: spec
    for name, spec in yaml.safe_load((PROJECT / "copier.yml").read_text()).items()
    if not name.startswith("_")
}
DOWN, ENTER = "\x1b[B", "\r"
# Only these are typed; every other question is accepted with its default (Enter).
TYPED = {
    "kind": DOWN + ENTER,  # infra → service
    "service": "web" + ENTER,
    "registry": "gitea.example.com" + ENTER,
    "owner": "team" + ENTER,
    "clusters": "[koala]" + ENTER,
}


def test_interactive_service_onboarding(infra_repo: Path, template_repo: Path) -> None:
    names = list(QUESTIONS)
    patterns = [re.escape(QUESTIONS[n]["help"][:30]) for n in names]
    child = pexpect.spawn(
        str(Path(sys.executable).parent / "copier"),
        ["copy", "--trust", str(template_repo), str(infra_repo / "apps/web")],
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 250),
        # A pty answers no cursor-position requests; without this each prompt waits 1 s.
        env={**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1"},
    )
    asked: list[str] = []
    while (index := child.expect([*patterns, pexpect.EOF])) < len(names):
        name = names[index]
        if name not in asked:  # the prompt is redrawn after each answer
            asked.append(name)
            child.send(TYPED.get(name, ENTER))
    child.close()
    assert child.exitstatus == 0
    assert asked[:7] == ["kind", "service", "registry", "owner", "port", "env", "clusters"]
    assert "create_missing_clusters" in asked and "app" not in " ".join(asked)
    answers = yaml.safe_load((infra_repo / "apps/web/.copier-answers.yml").read_text())
    assert answers["port"] == 8080 and answers["namespace"] == "web"
    build_and_validate(infra_repo / "clusters/koala")
