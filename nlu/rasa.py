"""A Rasa server as the intent engine: `POST /model/parse` over HTTP, with a short timeout.

`RasaClient` only talks HTTP and raises `RasaUnavailable` for anything it cannot use (no
connection, timeout, 5xx, a body that is not a parse result). `RasaNLU` wraps it with the
built-in engine as a fallback, so a Rasa outage degrades answers instead of stopping them.

Entities: our extractors run on every message whichever engine classifies it, because they
normalise values the way the contract says (E.164 phones, ISO datetimes with grain, catalogue
service keys) and Rasa's extractors do not. Rasa entities of other kinds, or at places ours
found nothing, are kept. Duckling's names are mapped (`time` → `datetime`,
`phone-number` → `phone`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from nlu.builtin import BuiltinNLU
from nlu.entities import EntityExtractor
from nlu.text import detect_language
from nlu.types import IntentScore, ParseResult

log = logging.getLogger(__name__)

OUT_OF_SCOPE = "out_of_scope"
_DUCKLING_NAMES = {"time": "datetime", "phone-number": "phone", "email": "email"}


class RasaUnavailable(Exception):
    """Rasa did not give a usable answer; the message says why (for logs and /healthz)."""


class RasaClient:
    """Async client of one Rasa server; a `?token=` in the URL is kept (Rasa's token auth)."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = httpx.URL(url)
        self.url = base.copy_with(path=base.path.rstrip("/") + "/model/parse")
        self._timeout = httpx.Timeout(timeout_s)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def parse(self, text: str) -> dict[str, Any]:
        """Rasa's parse body for `text`, or RasaUnavailable."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, transport=self._transport)
        try:
            response = await self._client.post(self.url, json={"text": text})
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(f"timeout after {self._timeout.read} s") from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise RasaUnavailable(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise RasaUnavailable("response is not JSON") from exc
        if not isinstance(body, dict):
            raise RasaUnavailable("response is not a JSON object")
        return body

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def parse_result(
    body: dict[str, Any], *, text: str, ours: list[dict[str, Any]], default_language: str
) -> ParseResult:
    """Rasa's `/model/parse` body as a ParseResult, with our normalised entities merged in."""
    try:
        ranking = _ranking(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise RasaUnavailable(f"unexpected parse body: {exc!r}") from exc
    language = body.get("language")
    if language not in ("vi", "en"):
        language = detect_language(text, default=default_language)
    return ParseResult(
        text=text,
        intent=ranking[0],
        intent_ranking=tuple(ranking),
        entities=tuple(merge_entities(ours, body.get("entities") or [])),
        language=language,
    )


def _ranking(body: dict[str, Any]) -> list[IntentScore]:
    """The intent first, then the rest of Rasa's ranking; no intent at all is out of scope."""
    intent = body.get("intent") or {}
    if not intent.get("name"):
        return [IntentScore(OUT_OF_SCOPE, 1.0)]
    top = IntentScore(str(intent["name"]), _confidence(intent.get("confidence")))
    rest = [
        IntentScore(str(item["name"]), _confidence(item.get("confidence")))
        for item in body.get("intent_ranking") or ()
        if item.get("name") and item["name"] != top.name
    ]
    return [top, *sorted(rest, key=lambda score: -score.confidence)]


def _confidence(value: Any) -> float:
    return round(min(1.0, max(0.0, float(value if value is not None else 0.0))), 4)


def merge_entities(
    ours: list[dict[str, Any]], theirs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Our entities, plus Rasa's where they add something: other kinds, at free places."""
    merged = list(ours)
    for entity in theirs:
        try:
            converted = _from_rasa(entity)
        except (KeyError, TypeError, ValueError):
            continue  # one odd entity is not worth losing the parse for
        if any(
            converted["start"] < other["end"] and other["start"] < converted["end"]
            for other in merged
        ):
            continue
        merged.append(converted)
    return sorted(merged, key=lambda entity: entity["start"])


def _from_duckling(entity: dict[str, Any]) -> bool:
    return str(entity.get("extractor") or "").startswith("Duckling")


def _from_rasa(entity: dict[str, Any]) -> dict[str, Any]:
    name = str(entity["entity"])
    confidence = entity.get("confidence", entity.get("confidence_entity"))
    return {
        "entity": _DUCKLING_NAMES.get(name, name) if _from_duckling(entity) else name,
        "value": entity["value"],
        "start": int(entity["start"]),
        "end": int(entity["end"]),
        "confidence": _confidence(1.0 if confidence is None else confidence),
        "additional_info": entity.get("additional_info"),
    }


class RasaNLU:
    """Rasa first; the built-in engine while Rasa is down, probing again every `retry_s`.

    An outage is logged once when it starts and once when it ends, not per message.
    """

    def __init__(
        self,
        client: RasaClient,
        *,
        builtin: BuiltinNLU,
        entities: EntityExtractor,
        default_language: str = "vi",
        retry_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self._builtin = builtin
        self._entities = entities
        self._default_language = default_language
        self._retry_s = retry_s
        self._clock = clock
        self._down_since: datetime | None = None
        self._retry_at = 0.0
        self._last_error: str | None = None

    async def parse(self, text: str, *, now: datetime | None = None) -> ParseResult:
        if self._down_since is not None and self._clock() < self._retry_at:
            return self._builtin.parse(text, now=now)
        try:
            body = await self.client.parse(text)
            ours = self._entities.extract(text, now=now)
            result = parse_result(
                body, text=text, ours=ours, default_language=self._default_language
            )
        except RasaUnavailable as exc:
            self._went_down(str(exc))
            return self._builtin.parse(text, now=now)
        self._came_back()
        return result

    def _went_down(self, reason: str) -> None:
        self._last_error = reason
        self._retry_at = self._clock() + self._retry_s
        if self._down_since is None:
            self._down_since = datetime.now(UTC)
            log.warning(
                "Rasa at %s is unavailable (%s); using the built-in NLU until it answers",
                self.client.url,
                reason,
            )

    def _came_back(self) -> None:
        if self._down_since is not None:
            log.warning("Rasa at %s answers again; back from the built-in NLU", self.client.url)
            self._down_since = None

    def status(self) -> dict[str, Any]:
        """For /healthz: `status` is "rasa" while Rasa answers, "fallback" during an outage."""
        down = self._down_since is not None
        return {
            "backend": "rasa",
            "status": "fallback" if down else "rasa",
            "url": str(self.client.url.copy_with(query=None)),
            "last_error": self._last_error if down else None,
            "down_since": self._down_since.isoformat() if self._down_since else None,
        }

    async def aclose(self) -> None:
        await self.client.aclose()
