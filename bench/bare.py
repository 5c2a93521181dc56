"""The reference: a bare FastAPI endpoint that only parses the webhook's JSON body.

The pipeline's throughput is reported as a ratio of this one, measured in the same run, so a
noisy shared machine moves both numbers together.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/webhooks/telegram")
async def telegram(request: Request) -> dict[str, bool]:
    json.loads(await request.body())  # the same parse the real webhook starts with
    return {"ok": True}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
