"""`POST /api/v1/nlu/parse`: what the bot understands of a text, in Rasa's parse shape.

Goes through the configured backend (Rasa, or the built-in engine while Rasa is down), so
supervisors see exactly what the bot would act on; `now` pins relative dates ("mai", "9h").
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from omnicrm.api.deps import RuntimeDep, SupervisorDep
from omnicrm.api.schemas import ParseIn

router = APIRouter(prefix="/nlu", tags=["nlu"])


@router.post("/parse")
async def parse(body: ParseIn, _: SupervisorDep, runtime: RuntimeDep) -> dict[str, Any]:
    return (await runtime.nlu.parse(body.text, now=body.now)).to_rasa()
