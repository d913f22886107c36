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


def stoppable(path: Path, seconds: float) -> None:
    """Like a training: SIGTERM makes it stop early, record that, and return normally (not raise)."""
    import signal

    stopped = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    path.with_suffix(".started").write_text(str(time.time()))
    deadline = time.time() + seconds
    while not stopped and time.time() < deadline:
        time.sleep(0.05)
    path.write_text("stopped" if stopped else "finished")
