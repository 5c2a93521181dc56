"""Value objects an NLU backend returns, shaped so the Rasa and built-in engines agree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IntentScore:
    """One intent and how sure the engine is about it, in [0, 1]."""

    name: str
    confidence: float

    def to_rasa(self) -> dict[str, Any]:
        """The `{"name", "confidence"}` pair Rasa uses in `intent` and `intent_ranking`."""
        return {"name": self.name, "confidence": self.confidence}


@dataclass(frozen=True)
class ParseResult:
    """What one message means: the winning intent, the alternatives, entities and language."""

    text: str
    intent: IntentScore
    intent_ranking: tuple[IntentScore, ...]
    entities: tuple[dict[str, Any], ...]
    language: str

    def to_rasa(self) -> dict[str, Any]:
        """Rasa's `/model/parse` response body, so API clients need not know which engine ran."""
        return {
            "text": self.text,
            "intent": self.intent.to_rasa(),
            "entities": [dict(entity) for entity in self.entities],
            "intent_ranking": [score.to_rasa() for score in self.intent_ranking],
            "language": self.language,
        }
