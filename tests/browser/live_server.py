"""The real app served by uvicorn on a free local port, in a thread, around a seeded SQLite file.

The browser needs a real socket; the app's own lifespan (worker, dispatcher) runs as in
production. Shared by the browser tests and `scripts/screenshots.py`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from crm_core.db import Database
from crm_core.migrate import upgrade
from omnicrm.app import create_app
from omnicrm.settings import Settings
from tests.browser.seed import Seeded, seed

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LiveApp:
    """Where the app listens and what was seeded into it."""

    url: str
    seeded: Seeded


async def prepare(database_url: str) -> Seeded:
    """Migrate an empty database and write the seeded world into it."""
    db = Database(database_url)
    try:
        await upgrade(db.engine)
        return await seed(db)
    finally:
        await db.dispose()


@contextmanager
def live_app(workdir: Path) -> Iterator[LiveApp]:
    """Serve a freshly seeded app until the block ends."""
    database_url = f"sqlite+aiosqlite:///{workdir / 'browser.db'}"
    # Its own thread: Playwright's sync API may already run an event loop in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        seeded = pool.submit(asyncio.run, prepare(database_url)).result()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the OS picks a free port; uvicorn serves on this very socket
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        auto_migrate=False,
        public_url=url,
        secret_key="browser-tests-secret-key-0123456789",
    )
    config = uvicorn.Config(
        create_app(settings), log_level="warning", lifespan="on", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        yield LiveApp(url=url, seeded=seeded)
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_S)
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the app stopped while starting (see the log above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the app did not start within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)
