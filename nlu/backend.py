"""The NLU the rest of the app calls: built-in, or Rasa with the built-in engine as fallback.

Callers await `parse` (Rasa is a network call, so it happens outside database transactions)
and show `status()` in /healthz.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from nlu.builtin import BuiltinNLU
from nlu.entities import EntityExtractor
from nlu.rasa import RasaClient, RasaNLU
from nlu.types import ParseResult


class NluBackend(Protocol):
    async def parse(self, text: str, *, now: datetime | None = None) -> ParseResult: ...

    def status(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class BuiltinBackend:
    """The built-in engine behind the async interface (it is CPU-only and fast)."""

    def __init__(self, builtin: BuiltinNLU) -> None:
        self.builtin = builtin

    async def parse(self, text: str, *, now: datetime | None = None) -> ParseResult:
        return self.builtin.parse(text, now=now)

    def status(self) -> dict[str, Any]:
        return {"backend": "builtin", "status": "builtin"}

    async def aclose(self) -> None:
        return None


def build_nlu(
    *,
    backend: str,
    rasa_url: str | None,
    timeout_s: float,
    builtin: BuiltinNLU,
    entities: EntityExtractor | None = None,
    default_language: str = "vi",
    retry_s: float = 5.0,
) -> NluBackend:
    """The configured backend; "rasa" needs a URL (settings validation should say so)."""
    if backend == "builtin":
        return BuiltinBackend(builtin)
    if backend != "rasa":
        raise ValueError(f"unknown NLU backend {backend!r} (builtin or rasa)")
    if not rasa_url:
        raise ValueError("OMNICRM_NLU_BACKEND=rasa needs OMNICRM_RASA_URL")
    return RasaNLU(
        RasaClient(rasa_url, timeout_s=timeout_s),
        builtin=builtin,
        entities=entities or EntityExtractor(),
        default_language=default_language,
        retry_s=retry_s,
    )
