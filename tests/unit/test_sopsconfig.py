"""Pure text edits of `.sops.yaml` and of the recorded `age_recipients` answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import sopsconfig
from generator.age import generate
from generator.errors import InputError

A, B, C = (generate().public for _ in range(3))

TEMPLATE_STYLE = f"""\
# sops creation rules of this infra repo.
creation_rules:
  # Kubernetes Secrets
  - path_regex: '\\.enc\\.yaml$'
    encrypted_regex: '^(data|stringData)$'
    mac_only_encrypted: true
    age:
      - "{A}"  # alice
  - path_regex: '\\.pgp\\.yaml$'
    pgp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4
"""


def test_the_rendered_rule_is_what_flux_and_the_cli_need(pristine_infra: Path) -> None:
    text = (pristine_infra / ".sops.yaml").read_text()
    assert sopsconfig.enc_rule_problems(text, "apps/web/secrets.enc.yaml") == []
    assert len(sopsconfig.recipients(text)) == 1


def test_a_rule_without_mac_only_encrypted_is_reported() -> None:
    text = TEMPLATE_STYLE.replace("    mac_only_encrypted: true\n", "")
    assert sopsconfig.enc_rule_problems(text) == ["mac_only_encrypted must be true"]
    assert sopsconfig.enc_rule_problems("creation_rules: []\n") == [
        "no creation rule matches x.enc.yaml"
    ]


def test_adding_inserts_one_line_in_the_same_style_and_keeps_comments() -> None:
    new = sopsconfig.add_recipient(TEMPLATE_STYLE, B)
    assert new == TEMPLATE_STYLE.replace(
        f'      - "{A}"  # alice\n', f'      - "{A}"  # alice\n      - "{B}"\n'
    )
    assert sopsconfig.recipients(new) == [A, B]
    assert sopsconfig.add_recipient(new, B) == new  # idempotent


def test_removing_deletes_the_line_and_add_then_remove_restores_the_bytes() -> None:
    added = sopsconfig.add_recipient(TEMPLATE_STYLE, B)
    assert sopsconfig.remove_recipient(added, B) == TEMPLATE_STYLE
    assert sopsconfig.remove_recipient(TEMPLATE_STYLE, C) == TEMPLATE_STYLE
    without_alice = sopsconfig.remove_recipient(added, A)
    assert "# alice" not in without_alice and sopsconfig.recipients(without_alice) == [B]


def test_the_last_recipient_of_a_rule_is_never_removed() -> None:
    with pytest.raises(InputError, match="creation rule 1 would have no age recipient left"):
        sopsconfig.remove_recipient(TEMPLATE_STYLE, A)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (f"  - age: {A}\n", f"  - age: {A},{B}\n"),
        (f"  - age: {A},{C}  # team\n", f"  - age: {A},{C},{B}  # team\n"),
        (f"  - age: [{A}]\n", f"  - age: [{A}, {B}]\n"),
    ],
    ids=["comma-separated", "with-a-comment", "flow-list"],
)
def test_other_recipient_styles_keep_their_style(before: str, after: str) -> None:
    text = f"creation_rules:\n{before}    path_regex: x\n"
    assert sopsconfig.add_recipient(text, B) == f"creation_rules:\n{after}    path_regex: x\n"


def test_recipients_over_several_lines_are_left_for_a_human() -> None:
    text = f"creation_rules:\n  - age: >-\n      {A},\n      {C}\n"
    with pytest.raises(InputError, match="span several lines"):
        sopsconfig.add_recipient(text, B)


def test_every_rule_with_age_recipients_is_edited() -> None:
    text = (
        f"creation_rules:\n  - path_regex: a\n    age: {A}\n"
        f"  - path_regex: b\n    age:\n    - {A}\n"
    )
    new = sopsconfig.add_recipient(text, B)
    assert sopsconfig.age_rules(new) == [[A, B], [A, B]]


def test_a_config_without_rules_is_bad_input() -> None:
    with pytest.raises(InputError, match=r"\.sops\.yaml: must have creation_rules"):
        sopsconfig.add_recipient("keys: []\n", B)
    with pytest.raises(InputError, match="has no creation rule with age recipients"):
        sopsconfig.add_recipient("creation_rules:\n  - pgp: ABC\n", B)


def test_the_recorded_answer_follows_the_recipients(pristine_infra: Path) -> None:
    answers = (pristine_infra / ".copier-answers.yml").read_text()
    (first,) = sopsconfig.recipients((pristine_infra / ".sops.yaml").read_text())
    synced = sopsconfig.sync_answers(answers, [first, B])
    assert synced == answers.replace(f"- {first}\n", f"- {first}\n- {B}\n")
    assert sopsconfig.sync_answers(synced, [first]) == answers
    assert sopsconfig.sync_answers(answers, [first]) == answers
    assert sopsconfig.sync_answers("kind: service\n", [B]) == "kind: service\n"
