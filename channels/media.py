"""Fetching a customer's media from the channel's own hosts only: no SSRF, no leaked credentials.

A forged webhook can carry any URL (Botpress CVE-2026-4984): we fetch only from hosts the
channel owns, check every resolved address and every redirect hop, cap size and time, and
send credentials only to the provider's API host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

Resolver = Callable[[str], Awaitable[list[str]]]
MAX_REDIRECTS = 3


class MediaRefused(Exception):
    """The media cannot be fetched safely (or at all); `status` is what the API answers."""

    def __init__(self, reason: str, *, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class MediaSource:
    """Where one channel's media may come from; a leading dot allows subdomains."""

    hosts: tuple[str, ...]
    auth: tuple[str, str] | None = None
    auth_hosts: tuple[str, ...] = ()
    trusted_local: frozenset[str] = field(default_factory=frozenset)  # configured API bases

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(
            host == allowed or (allowed.startswith(".") and host.endswith(allowed))
            for allowed in self.hosts
        )


@dataclass(frozen=True)
class FetchedMedia:
    content: bytes
    content_type: str


async def system_resolver(host: str) -> list[str]:
    """Every address the host resolves to (all must be public)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class MediaFetcher:
    """One httpx client, no automatic redirects: each hop is checked like the first."""

    def __init__(
        self,
        *,
        max_bytes: int,
        timeout_s: float = 10.0,
        resolver: Resolver = system_resolver,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.resolver = resolver
        self.client = httpx.AsyncClient(
            timeout=timeout_s, follow_redirects=False, transport=transport
        )

    async def fetch(self, url: str, source: MediaSource) -> FetchedMedia:
        for _ in range(MAX_REDIRECTS + 1):
            await self._check(url, source)
            auth = source.auth if host_of(url) in source.auth_hosts else None
            async with self.client.stream("GET", url, auth=auth) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code != 200:
                    raise MediaRefused(f"the channel answered {response.status_code}", status=502)
                return await self._read(response)
        raise MediaRefused("too many redirects", status=502)

    async def _check(self, url: str, source: MediaSource) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host or not source.allows(host):
            raise MediaRefused(f"host {host or '?'} is not one of the channel's media hosts")
        if host in source.trusted_local:
            return  # the operator configured this API base (a local fake, a proxy)
        if parts.scheme != "https":
            raise MediaRefused("media is fetched over https only")
        try:
            addresses = await self.resolver(host)
        except OSError as exc:
            raise MediaRefused(f"cannot resolve {host}", status=502) from exc
        for address in addresses:
            if not ipaddress.ip_address(address.split("%")[0]).is_global:
                raise MediaRefused(f"{host} resolves to a non-public address")

    async def _read(self, response: httpx.Response) -> FetchedMedia:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise MediaRefused("the media is larger than MEDIA_MAX_BYTES", status=413)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise MediaRefused("the media is larger than MEDIA_MAX_BYTES", status=413)
            chunks.append(chunk)
        content_type = response.headers.get("content-type", "application/octet-stream")
        return FetchedMedia(b"".join(chunks), content_type)

    async def close(self) -> None:
        await self.client.aclose()
