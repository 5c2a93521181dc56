"""A fake Rasa server: `POST /model/parse` answering from a table, or failing on demand."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tests.fakes.server import serve_locally


class FakeRasa:
    """`mode` is "ok", "slow" (answers after `delay_s`), "error" (HTTP 500) or "garbage"."""

    def __init__(self, intents: dict[str, tuple[str, float]] | None = None) -> None:
        self.intents = intents or {}
        self.mode = "ok"
        self.delay_s = 5.0
        self.requests: list[dict[str, Any]] = []
        self.queries: list[dict[str, str]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/model/parse", self._parse)
        self._runner, self.url = await serve_locally(app)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _parse(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.queries.append(dict(request.query))
        if self.mode == "slow":
            await asyncio.sleep(self.delay_s)
        if self.mode == "error":
            return web.json_response({"error": "model not loaded"}, status=500)
        if self.mode == "garbage":
            return web.Response(text="<html>proxy error</html>", content_type="text/html")
        return web.json_response(self.answer(body["text"]))

    def answer(self, text: str) -> dict[str, Any]:
        """What Rasa 3 returns: intent, ranking, entities (one from Duckling, one from DIET)."""
        name, confidence = self.intents.get(text, ("greet", 0.91))
        entities: list[dict[str, Any]] = []
        if "Lan" in text:
            start = text.index("Lan")
            entities.append(
                {
                    "entity": "name",
                    "start": start,
                    "end": start + 3,
                    "confidence_entity": 0.87,
                    "value": "Lan",
                    "extractor": "DIETClassifier",
                }
            )
        if "0912 345 678" in text:  # Rasa would give the raw text; ours is E.164
            start = text.index("0912 345 678")
            entities.append(
                {
                    "entity": "phone-number",
                    "start": start,
                    "end": start + 12,
                    "value": "0912 345 678",
                    "confidence": 1.0,
                    "extractor": "DucklingEntityExtractor",
                }
            )
        return {
            "text": text,
            "intent": {"name": name, "confidence": confidence},
            "entities": entities,
            "intent_ranking": [
                {"name": name, "confidence": confidence},
                {"name": "out_of_scope", "confidence": round(1 - confidence, 4)},
            ],
            "response_selector": {},
        }
