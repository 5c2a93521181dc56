"""Tools for the fault tests: a TCP proxy the test can cut, and child processes that are
always killed (a private redis-server, `omnicrm worker`), even when the test fails."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

PG_URL = os.environ.get("OMNICRM_TEST_DATABASE_URL")
needs_postgres = pytest.mark.skipif(
    not PG_URL,
    reason="the fault tests need a real PostgreSQL: set OMNICRM_TEST_DATABASE_URL "
    "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)",
)
# Reuse conftest's `database_url` fixture, on PostgreSQL only.
on_postgres = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

# Starts the real command line, as `omnicrm <args>` would.
CLI = "import sys; from omnicrm.cli import app; sys.argv[0] = 'omnicrm'; app()"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def until(check: Callable[[], Awaitable[bool]], what: str, *, within: float = 30.0) -> None:
    """Poll a condition; the bound only keeps a broken test from hanging."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not reached within {within:.0f} s: {what}")
        await asyncio.sleep(0.05)


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to a target. `cut` closes the listener and every live
    connection (the server looks gone: connections are refused); `stall` accepts connections
    and never answers (a server that hangs); `restore` forwards again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()
        self._stalled = False

    async def start(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def stall(self) -> None:
        await self.cut()
        self._stalled = True
        await self.start()

    async def restore(self) -> None:
        if self._stalled:
            await self.cut()
            self._stalled = False
        if self._server is None:
            await self.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stalled:
            self._writers.add(writer)  # held open, never read nor answered, until `cut`
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pump = asyncio.create_task(self._pump(source, sink))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            sink.transport.abort()
            self._writers.discard(sink)


class Children:
    """Child processes of one test, each logging to a file; `kill_all` runs in the fixture's
    teardown, so nothing outlives the test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.directory / f"{name}.log").open("ab")
        process = subprocess.Popen(
            args, env=env, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()  # the child holds its own descriptor
        self.running.append(process)
        return process

    def omnicrm(self, name: str, *args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return self.start(name, [sys.executable, "-c", CLI, *args], env)

    def log(self, name: str) -> str:
        path = self.directory / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL, as a crash: no cleanup runs in the child."""
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def kill_all(self) -> None:
        for process in self.running:
            with contextlib.suppress(ProcessLookupError):
                self.kill(process)
        self.running.clear()


def worker_env(**settings: str) -> dict[str, str]:
    """The environment of an `omnicrm worker`: this one without OMNICRM_* plus `settings`
    (keys without the OMNICRM_ prefix, e.g. DATABASE_URL)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMNICRM_")}
    env.update({f"OMNICRM_{key}": value for key, value in settings.items()})
    env.setdefault("OMNICRM_NLU_BLOCKING_START", "1")
    env.setdefault("OMNICRM_AUTO_MIGRATE", "false")
    return env


class PrivateRedis:
    """A redis-server of this test only (AOF on, no snapshots), on a fixed port so that a
    restart comes back where the clients expect it."""

    def __init__(self, children: Children, directory: Path) -> None:
        self.children = children
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server, "the Redis restart test runs its own redis-server: install it"
        args = [
            server,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--dir",
            str(self.directory),
        ]
        self.process = self.children.start("redis", args, dict(os.environ))

    def kill(self) -> None:
        assert self.process is not None
        Children.kill(self.process)
        self.process = None
