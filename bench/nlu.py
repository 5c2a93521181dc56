"""`python -m bench.nlu`: accuracy and parse latency of the built-in NLU, per writing style.

Trains the shipped engine the way start-up does (timed), then parses every held-out example
once, cold: no message has been seen before, so every embedding the engine asks for is
computed, not taken from its cache. Prints a table and writes bench/results/nlu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from bench.report import machine
from nlu import BuiltinNLU
from nlu.builtin import heldout_data_path
from nlu.evaluate import Latency, run, score
from nlu.rasa_yaml import read_nlu

RESULTS = Path(__file__).resolve().parent / "results" / "nlu.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(heldout_data_path()), help="Rasa NLU YAML")
    parser.add_argument("--embeddings", default="auto", choices=("auto", "always", "never"))
    parser.add_argument("--output", default=str(RESULTS), help="JSON file (bench/results/)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    nlu = BuiltinNLU(embeddings=args.embeddings)
    startup_s = time.perf_counter() - started
    data = read_nlu(Path(args.data))
    embedded_before = _embedded(nlu)
    outcomes = run(nlu, data.examples)
    embedded = _embedded(nlu) - embedded_before
    report = score(outcomes, entity_types=data.entity_types)

    print(f"built-in NLU: trained at start-up in {startup_s:.2f} s; {args.data}")
    print(f"{'style':<18} {'n':>4} {'accuracy':>9} {'mean ms':>8} {'p50 ms':>7} {'p99 ms':>7}")
    rows: dict[str, dict[str, Any]] = {}
    for style, (accuracy, count) in sorted(report.per_style.items()):
        rows[style] = _row(style, count, accuracy, report.style_latency[style])
    rows["all"] = _row("all", report.examples, report.accuracy, report.latency)
    print(
        f"embedding computed for {embedded} of {report.examples} messages; "
        f"out-of-scope threshold {nlu.threshold:.3f}"
    )
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "startup_s": startup_s,
        "embeddings": args.embeddings,
        "embedded_messages": embedded,
        "styles": rows,
        "machine": machine(),
    }
    output.write_text(json.dumps(body, indent=2), encoding="utf-8")
    return 0


def _row(style: str, count: int, accuracy: float, latency: Latency) -> dict[str, Any]:
    print(
        f"{style:<18} {count:>4} {accuracy:>9.3f} {latency.mean_ms:>8.2f} "
        f"{latency.p50_ms:>7.2f} {latency.p99_ms:>7.2f}"
    )
    return {"examples": count, "accuracy": accuracy, **vars(latency)}


def _embedded(nlu: BuiltinNLU) -> int:
    """How many embeddings the engine has computed so far (its cache misses)."""
    return nlu.embedding_calls


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    raise SystemExit(main())
