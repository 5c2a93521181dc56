"""A real Redis for the bus tests: OMNICRM_TEST_REDIS_URL, and a key prefix per test.

Without the variable the tests are skipped (with the reason); with it set and Redis not
answering they fail, since CI sets it on purpose.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from conversations.redis_bus import connect

REDIS_URL = os.environ.get("OMNICRM_TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL,
    reason="the Redis bus tests need a real Redis: set OMNICRM_TEST_REDIS_URL "
    "(e.g. redis://127.0.0.1:6379/0)",
)


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    assert REDIS_URL
    client = connect(REDIS_URL)
    await client.ping()  # unreachable: the test fails here, it is not skipped
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis_client: Redis) -> AsyncIterator[str]:
    """Keys of one test only (CI may share this Redis with other runs); removed afterwards."""
    name = f"omnicrm-test:{uuid.uuid4().hex[:12]}"
    yield name
    keys = [key async for key in redis_client.scan_iter(match=f"{name}:*")]
    if keys:
        await redis_client.delete(*keys)


async def until(check: Callable[[], Awaitable[bool]], *, within: float = 30.0) -> None:
    """Wait for a condition; the bound only keeps a broken test from hanging."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("the condition was not reached")
        await asyncio.sleep(0.02)
