"""Pure domain rules: conversation transitions, roles, contact normalisation."""

from __future__ import annotations

import pytest

from crm_core.contacts import normalize_email, normalize_phone
from crm_core.enums import ConversationStatus as S
from crm_core.enums import IllegalTransition, Role

LEGAL = {
    (S.BOT, S.WAITING_AGENT),
    (S.BOT, S.AGENT),
    (S.BOT, S.RESOLVED),
    (S.WAITING_AGENT, S.AGENT),
    (S.WAITING_AGENT, S.BOT),
    (S.WAITING_AGENT, S.RESOLVED),
    (S.AGENT, S.BOT),
    (S.AGENT, S.RESOLVED),
    (S.AGENT, S.WAITING_AGENT),
}


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_conversation_transitions_follow_the_table(source: S, target: S) -> None:
    if (source, target) in LEGAL:
        assert source.transition(target) is target
    else:
        with pytest.raises(IllegalTransition):
            source.transition(target)


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.SUPERVISOR) and Role.SUPERVISOR.allows(Role.AGENT)
    assert not Role.AGENT.allows(Role.SUPERVISOR)
    assert not Role.SUPERVISOR.allows(Role.ADMIN)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0912 345 678", "+84912345678"),
        ("+84 912 345 678", "+84912345678"),
        ("84912345678", "+84912345678"),  # Telegram shares numbers without "+"
        ("(091) 234-5678", "+84912345678"),
        ("+1 415 555 2671", "+14155552671"),
        ("1.500.000", None),  # a price, not a phone
        ("12", None),
        ("", None),
        ("không có", None),
    ],
)
def test_phone_numbers_become_e164_with_vietnam_as_default(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw, region="VN") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Lan.Nguyen+spa@Example.COM ", "lan.nguyen+spa@example.com"),
        ("not-an-address", None),
        ("a@b", None),
    ],
)
def test_emails_are_lower_cased_and_validated(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected
