"""Intents and entities: the built-in engine and the value types every backend returns."""

from nlu.builtin import BuiltinNLU
from nlu.types import IntentScore, ParseResult

__all__ = ["BuiltinNLU", "IntentScore", "ParseResult"]
