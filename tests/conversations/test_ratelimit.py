"""The per-channel pacer spaces sends to the configured rate."""

from __future__ import annotations

import asyncio

import pytest

from conversations.ratelimit import Pacer, PerChatSpacing


async def test_sends_are_spaced_by_the_interval() -> None:
    pacer = Pacer(20.0)  # 50 ms apart
    loop = asyncio.get_running_loop()
    started = loop.time()
    stamps: list[float] = []

    async def send() -> None:
        await pacer.wait()
        stamps.append(loop.time() - started)

    await asyncio.gather(*(send() for _ in range(6)))
    stamps.sort()
    assert stamps[0] < 0.1  # the first caller does not wait
    # Slots are 50 ms apart; a loaded machine wakes a sleeper late, which can shorten
    # the gap to the next on-time one, but never makes the last slot come early.
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert min(gaps) >= 0.02
    assert stamps[-1] >= 0.24


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Pacer(0)


async def test_per_chat_spacing_only_delays_the_same_chat() -> None:
    spacing = PerChatSpacing(0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await spacing.wait("a")
    await spacing.wait("b")
    assert loop.time() - started < 0.05  # another chat is not held back
    await spacing.wait("a")
    assert loop.time() - started >= 0.19
