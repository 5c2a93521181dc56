"""Which process consumes the bus: `serve` is web only with Redis, and `dlq` needs Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conversations.bus import InboxPollingBus, InProcessBus
from conversations.redis_bus import RedisBus
from omnicrm.cli import app
from omnicrm.commands import serve_settings
from omnicrm.runtime import build_bus
from tests.conftest import make_settings

runner = CliRunner()


def test_serve_with_redis_is_web_only_unless_asked(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    with_redis = make_settings(url, redis_url="redis://127.0.0.1:6379/0")
    assert serve_settings(with_redis, with_worker=False).embedded_worker is False
    assert serve_settings(with_redis, with_worker=True).embedded_worker is True
    embedded = make_settings(url)
    assert serve_settings(embedded, with_worker=False).embedded_worker is True  # as before


def test_the_bus_follows_the_settings(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    assert isinstance(build_bus(make_settings(url)), InProcessBus)
    assert isinstance(build_bus(make_settings(url, embedded_worker=False)), InboxPollingBus)
    redis_bus = build_bus(
        make_settings(
            url, redis_url="redis://127.0.0.1:6379/0", redis_prefix="p", worker_partitions=3
        )
    )
    assert isinstance(redis_bus, RedisBus)
    assert (redis_bus.partitions, redis_bus.keys.stream(2)) == (3, "p:events:2")
    assert redis_bus.tracks_publication is True


def test_dlq_needs_redis_and_ids_or_all(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("OMNICRM_REDIS_URL", raising=False)
    listed = runner.invoke(app, ["dlq", "list"])
    assert listed.exit_code == 2
    assert "set OMNICRM_REDIS_URL" in listed.output
    neither = runner.invoke(app, ["dlq", "replay"])
    assert neither.exit_code == 2
    assert "give dead-letter ids or --all" in neither.output
    both = runner.invoke(app, ["dlq", "replay", "--all", "1-0"])
    assert both.exit_code == 2
