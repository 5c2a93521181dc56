"""Reply templates (Jinja2, sandboxed: a template edited by staff cannot reach Python)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

DEFAULT_PATH = Path(__file__).with_name("templates.yml")
LANGUAGES = ("vi", "en")


class Templates:
    """Named templates per language; a missing language falls back to Vietnamese."""

    def __init__(self, sources: dict[str, dict[str, str]]) -> None:
        # Chat text is not HTML: no autoescape; undefined variables are a bug, not blank text.
        self._env = SandboxedEnvironment(
            autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False
        )
        self._compiled = {
            (key, lang): self._env.from_string(text)
            for key, texts in sources.items()
            for lang, text in texts.items()
        }

    @classmethod
    def load(cls, override: Path | None = None) -> Templates:
        """The shipped file, with the keys of `override` (same shape) replacing its own."""
        sources = _read(DEFAULT_PATH)
        if override is not None:
            for key, texts in _read(override).items():
                sources[key] = {**sources.get(key, {}), **texts}
        return cls(sources)

    def render(self, key: str, language: str, **values: Any) -> str:
        template = self._compiled.get((key, language)) or self._compiled[(key, "vi")]
        return template.render(**values).strip()


def _read(path: Path) -> dict[str, dict[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of template names")
    out: dict[str, dict[str, str]] = {}
    for key, texts in data.items():
        if not isinstance(texts, dict) or not all(isinstance(v, str) for v in texts.values()):
            raise ValueError(f"{path}: template {key!r} needs a text per language")
        out[str(key)] = {str(lang): text for lang, text in texts.items()}
    return out


@cache
def default_templates() -> Templates:
    return Templates.load()
