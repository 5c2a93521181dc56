"""Shared set-up for the NLU tests."""

from __future__ import annotations

import pytest

from nlu import BuiltinNLU


@pytest.fixture(scope="session", autouse=True)
def _shipped_engine_ready() -> None:
    """On a cold cache the shipped engine trains its embedding branch in the background; the
    tests measure the whole engine, so wait for it once (a no-op when the cache is warm)."""
    assert BuiltinNLU().wait_ready(timeout=300)
