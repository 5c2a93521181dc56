"""Runs the real app as a user would: uvicorn in a subprocess, on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import aiohttp

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port the kernel just handed out; uvicorn binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppServer:
    """One `uvicorn` process (by default `--factory omnicrm.app:create_app`) with its own
    settings and log; `app` names another ASGI app, e.g. the bare endpoint."""

    def __init__(
        self,
        *,
        workdir: Path,
        name: str,
        settings: dict[str, str],
        app: Sequence[str] = ("--factory", "omnicrm.app:create_app"),
    ) -> None:
        self.workdir = workdir
        self.name = name
        self.settings = settings
        self.app = tuple(app)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        self.started_in_s: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def __aenter__(self) -> AppServer:
        try:
            await self.start()
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def start(self, timeout_s: float = 60.0) -> None:
        """Spawn uvicorn and wait until `GET /healthz` answers 200 (migrations run first)."""
        began = time.perf_counter()
        proc = self._spawn()
        deadline = began + timeout_s
        async with aiohttp.ClientSession() as session:
            while not await _healthy(session, self.url):
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} server exited with {proc.returncode}:\n{self.log_tail()}"
                    )
                if time.perf_counter() > deadline:
                    raise RuntimeError(
                        f"{self.name} server not healthy after {timeout_s:.0f}s:\n"
                        f"{self.log_tail()}"
                    )
                await asyncio.sleep(0.1)
        self.started_in_s = time.perf_counter() - began

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", *self.app,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip

    def _spawn(self) -> subprocess.Popen[bytes]:
        self._proc = spawn(self.command(), self.workdir, self.settings, self.log_path)
        return self._proc

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM (uvicorn runs the lifespan shutdown), then SIGKILL after the grace period."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace_s)

    def rss_mb(self) -> float | None:
        """Resident memory of the server process, from /proc/<pid>/status."""
        text = _read(f"/proc/{self.pid}/status") if self.pid else None
        for line in (text or "").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return None

    def cpu_s(self) -> float | None:
        """User + system CPU seconds the server has used so far."""
        text = _read(f"/proc/{self.pid}/stat") if self.pid else None
        if not text:
            return None
        fields = text.rsplit(")", 1)[1].split()  # the command name may contain spaces
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def log_tail(self, lines: int = 30) -> str:
        text = _read(str(self.log_path)) or ""
        return "\n".join(text.splitlines()[-lines:])

    def log_problems(self) -> list[str]:
        """Lines the app logged at warning level or above, plus tracebacks."""
        text = _read(str(self.log_path)) or ""
        marks = ("ERROR", "CRITICAL", "Traceback", "WARNING")
        return [line for line in text.splitlines() if any(mark in line for mark in marks)]


class WorkerProcess(AppServer):
    """One `omnicrm worker` process: no port, so it is ready once it answers replies."""

    async def start(self, timeout_s: float = 60.0) -> None:
        """Spawn it; the warm-up (which waits for replies) proves it works."""
        began = time.perf_counter()
        self._spawn()
        await asyncio.sleep(0.2)
        if self._proc is not None and self._proc.poll() is not None:
            code = self._proc.returncode
            raise RuntimeError(f"{self.name} exited with {code}:\n{self.log_tail()}")
        self.started_in_s = time.perf_counter() - began

    def command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "omnicrm"), "worker"]


def spawn(
    command: Sequence[str], workdir: Path, settings: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start a process with only our settings: a developer's OMNICRM_* variables must not leak
    into the run, and the working directory is the temp dir so no `.env` is picked up either."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNICRM_")}
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    with log_path.open("wb") as log:
        return subprocess.Popen(
            list(command), cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip


async def _healthy(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        timeout = aiohttp.ClientTimeout(total=2)
        async with session.get(f"{url}/healthz", timeout=timeout) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


def system_busy_s() -> float:
    """CPU seconds all processes used on this machine (steal and idle excluded)."""
    first = (_read("/proc/stat") or "cpu 0").splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in first[:7])
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
