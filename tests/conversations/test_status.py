"""Delivery statuses only move forward, whatever order the callbacks arrive in."""

from __future__ import annotations

import pytest

from conversations.status import _advances


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        ("queued", "sent", True),
        ("sent", "delivered", True),
        ("delivered", "read", True),
        ("delivered", "sent", False),  # a late "sent" after "delivered"
        ("read", "delivered", False),
        ("sent", "failed", True),
        ("delivered", "failed", False),  # it did arrive
        ("failed", "delivered", True),  # proof of arrival beats an earlier failure report
        ("failed", "sent", False),
        ("sent", "sent", False),
    ],
)
def test_status_moves_only_forward(current: str, new: str, expected: bool) -> None:
    assert _advances(current, new) is expected
