"""Module-level job functions for tests/test_jobs.py (spawned workers import them by name)."""

from __future__ import annotations

import time
from pathlib import Path


def stamp(path: Path, seconds: float) -> None:
    """Write this job's start and end times (seconds since the epoch, comparable across processes)."""
    start = time.time()
    time.sleep(seconds)
    path.write_text(f"{start} {time.time()}")


def fail(message: str) -> None:
    raise RuntimeError(message)
