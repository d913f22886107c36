"""Metric modules for `evaluate`, shipped with procpre and loaded from their path (works offline)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

METRICS_DIR = Path(__file__).resolve().parent


@cache
def load_metric(name: str) -> Any:
    """`evaluate.load` of a procpre metric module by its folder name (sequence_accuracy, perplexity_from_loss)."""
    import evaluate

    path = METRICS_DIR / name
    if not (path / f"{name}.py").is_file():
        known = sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file())
        raise ValueError(f"unknown metric {name!r}; procpre ships {', '.join(known)}")
    return evaluate.load(str(path))
