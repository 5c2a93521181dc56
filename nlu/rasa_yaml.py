"""Read and write Rasa 3 NLU training data, keeping entity annotations with their spans.

Rasa marks entities inline: `[0912 345 678](phone)` or
`[mai](datetime)` / `[mai]{"entity": "datetime", "value": "tomorrow"}`. Reading strips the
markup and records where each entity sits in the plain text, so evaluation can compare the
extractor's spans with the annotated ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans, as Rasa reads them: `intent: yes` is the intent "yes", not True."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

# `[text](entity)`, `[text](entity:value)` (Rasa 1 style, still read by Rasa 3) and
# `[text]{"entity": ..., "value": ...}`.
_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<short>[^)]*)\)|(?P<long>\{[^}]*\}))")


@dataclass(frozen=True)
class AnnotatedEntity:
    """One entity marked in a training or test example; `start`/`end` index the plain text."""

    entity: str
    start: int
    end: int
    text: str
    value: str | None = None


@dataclass(frozen=True)
class Example:
    """One utterance: plain text, its intent, its entities and any metadata (e.g. style)."""

    text: str
    intent: str
    entities: tuple[AnnotatedEntity, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NluData:
    """Everything this project uses from one Rasa NLU file."""

    examples: tuple[Example, ...]
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    lookups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def intents(self) -> tuple[str, ...]:
        """Intent names in first-seen order."""
        return tuple(dict.fromkeys(example.intent for example in self.examples))

    @property
    def entity_types(self) -> tuple[str, ...]:
        """Entity names annotated anywhere, sorted."""
        return tuple(sorted({e.entity for ex in self.examples for e in ex.entities}))


def parse_annotated(line: str) -> tuple[str, tuple[AnnotatedEntity, ...]]:
    """Strip Rasa entity markup from one example; return the plain text and the spans."""
    plain: list[str] = []
    entities: list[AnnotatedEntity] = []
    length = 0
    cursor = 0
    for match in _ANNOTATION.finditer(line):
        before = line[cursor : match.start()]
        plain.append(before)
        length += len(before)
        text = match.group("text")
        entity, value = _entity_and_value(match.group("short"), match.group("long"), line)
        entities.append(AnnotatedEntity(entity, length, length + len(text), text, value))
        plain.append(text)
        length += len(text)
        cursor = match.end()
    plain.append(line[cursor:])
    return "".join(plain), tuple(entities)


def _entity_and_value(short: str | None, long: str | None, line: str) -> tuple[str, str | None]:
    """The entity name (and value, when given) of one annotation."""
    if short is not None:
        name, _, value = short.partition(":")
        if not name.strip():
            raise ValueError(f"empty entity name in {line!r}")
        return name.strip(), value.strip() or None
    try:
        spec = json.loads(long or "")
    except json.JSONDecodeError as exc:
        raise ValueError(f"bad entity annotation in {line!r}: {exc}") from exc
    if not isinstance(spec, dict) or not spec.get("entity"):
        raise ValueError(f"entity annotation without 'entity' in {line!r}")
    value = spec.get("value")
    return str(spec["entity"]), None if value is None else str(value)


def read_nlu(path: Path) -> NluData:
    """Load a Rasa 3 NLU YAML file (intents, synonyms, lookups; regexes are ignored)."""
    data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Yaml12Loader)  # noqa: S506
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping with an 'nlu' list")
    examples: list[Example] = []
    synonyms: dict[str, tuple[str, ...]] = {}
    lookups: dict[str, tuple[str, ...]] = {}
    for block in data.get("nlu") or ():
        if not isinstance(block, dict):
            raise ValueError(f"{path}: every 'nlu' item must be a mapping, got {block!r}")
        if "intent" in block:
            examples.extend(_block_examples(block))
        elif "synonym" in block:
            synonyms[str(block["synonym"])] = _plain_list(block.get("examples"))
        elif "lookup" in block:
            lookups[str(block["lookup"])] = _plain_list(block.get("examples"))
    return NluData(examples=tuple(examples), synonyms=synonyms, lookups=lookups)


def _block_examples(block: Mapping[str, Any]) -> list[Example]:
    """The examples of one `- intent:` block, in either of Rasa's two example forms."""
    intent = str(block["intent"])
    shared = dict(block.get("metadata") or {})
    raw = block.get("examples") or ""
    items: list[tuple[str, dict[str, Any]]] = []
    if isinstance(raw, str):
        items = [(line, {}) for line in _dash_lines(raw)]
    else:  # a list of {"text": ..., "metadata": ...} mappings
        for item in raw:
            text = item.get("text") if isinstance(item, dict) else item
            own = item.get("metadata") if isinstance(item, dict) else None
            items.append((str(text).strip(), dict(own or {})))
    examples = []
    for line, own in items:
        text, entities = parse_annotated(line)
        examples.append(Example(text, intent, entities, {**shared, **own}))
    return examples


def _dash_lines(raw: str) -> list[str]:
    """The `- example` lines of a block scalar."""
    lines = []
    for line in raw.splitlines():
        line = line.strip()
        if line.startswith("- "):
            lines.append(line[2:].strip())
        elif line == "-":
            lines.append("")
    return lines


def _plain_list(raw: Any) -> tuple[str, ...]:
    """Synonym and lookup entries: plain strings, one per `- ` line."""
    return tuple(parse_annotated(line)[0] for line in _dash_lines(str(raw or "")))


def annotate(example: Example) -> str:
    """The example written back in Rasa markup, `[text](entity)` for each entity."""
    parts: list[str] = []
    cursor = 0
    for entity in sorted(example.entities, key=lambda e: e.start):
        parts.append(example.text[cursor : entity.start])
        span = example.text[entity.start : entity.end]
        if entity.value is not None and entity.value != span:
            spec = json.dumps({"entity": entity.entity, "value": entity.value}, ensure_ascii=False)
            parts.append(f"[{span}]{spec}")
        else:
            parts.append(f"[{span}]({entity.entity})")
        cursor = entity.end
    parts.append(example.text[cursor:])
    return "".join(parts)


def dump_nlu(data: NluData) -> str:
    """Rasa 3 NLU YAML text for `data`: one block per intent, then synonyms and lookups."""
    by_intent: dict[str, list[str]] = {}
    for example in data.examples:
        by_intent.setdefault(example.intent, []).append(annotate(example))
    lines = ['version: "3.1"', "", "nlu:"]
    for intent, texts in by_intent.items():
        lines += [f"  - intent: {_scalar(intent)}", "    examples: |"]
        lines += [f"      - {text}" for text in texts]
    for kind, table in (("synonym", data.synonyms), ("lookup", data.lookups)):
        for name, entries in table.items():
            lines += [f"  - {kind}: {_scalar(name)}", "    examples: |"]
            lines += [f"      - {entry}" for entry in entries]
    return "\n".join(lines) + "\n"


def _scalar(value: str) -> str:
    """A YAML scalar that reads back as exactly this string."""
    dumped = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True).strip()
    return dumped.removesuffix("\n...").strip()


def merge(datasets: Iterable[NluData]) -> NluData:
    """Several NLU files as one, as Rasa does when given a directory."""
    examples: list[Example] = []
    synonyms: dict[str, tuple[str, ...]] = {}
    lookups: dict[str, tuple[str, ...]] = {}
    for data in datasets:
        examples.extend(data.examples)
        for table, more in ((synonyms, data.synonyms), (lookups, data.lookups)):
            for name, entries in more.items():  # one table may span files (vi.yml + en.yml)
                table[name] = tuple(dict.fromkeys((*table.get(name, ()), *entries)))
    return NluData(tuple(examples), synonyms, lookups)


# A standard Rasa 3 NLU pipeline: word and character n-gram counts feeding DIET, plus the
# fallback classifier that turns low confidence into `nlu_fallback`.
_RASA_PIPELINE: list[dict[str, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "LexicalSyntacticFeaturizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
    {"name": "DIETClassifier", "epochs": 100, "constrain_similarities": True},
    {"name": "EntitySynonymMapper"},
    {"name": "FallbackClassifier", "threshold": 0.4},
]


def write_rasa_project(data: NluData, directory: Path, *, language: str = "vi") -> list[Path]:
    """Write nlu.yml, config.yml and domain.yml: enough for `rasa train nlu`."""
    directory = Path(directory)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    config = {
        "recipe": "default.v1",
        "assistant_id": "omnicrm",
        "language": language,
        "pipeline": _RASA_PIPELINE,
    }
    domain = {
        "version": "3.1",
        "intents": list(data.intents),
        "entities": list(data.entity_types),
        "session_config": {
            "session_expiration_time": 60,
            "carry_over_slots_to_new_session": True,
        },
    }
    files = {
        directory / "data" / "nlu.yml": dump_nlu(data),
        directory / "config.yml": _dump_yaml(config),
        directory / "domain.yml": _dump_yaml(domain),
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)


def _dump_yaml(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)
