"""Throughput benchmarks: what the data path delivers, measured side by side in one run."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from procpre.data import generate_block
from procpre.streaming import procedural_dataset
from procpre.tasks.base import Task


def _rate(blocks: Iterator[int], seconds: float) -> tuple[float, int]:
    """Consume an iterator of per-item sample counts for about `seconds`; return (samples/s, samples)."""
    start = time.perf_counter()
    samples = 0
    for n in blocks:
        samples += n
        if time.perf_counter() - start >= seconds:
            break
    return samples / (time.perf_counter() - start), samples


def _raw_blocks(task: Task) -> Iterator[int]:
    block = 0
    while True:
        yield len(generate_block(task, 0, "train", block))
        block += 1


def _stream_blocks(task: Task) -> Iterator[int]:
    """The `datasets` path as a trainer reads it: Arrow batches turned into numpy arrays."""
    stream = procedural_dataset(task, seed=0).with_format("arrow")
    for table in stream.iter(batch_size=task.block_size):
        ids = table.column("input_ids").combine_chunks().flatten().to_numpy()
        yield len(ids) // task.length


def bench_data(tasks: list[Task], seconds: float = 2.0) -> list[dict[str, Any]]:
    """Samples/s and tokens/s of the raw generator and the datasets stream, per task, one process."""
    rows = []
    for task in tasks:
        generate_block(task, 0, "validation", 0)  # warm up compiled kernels outside the timing
        raw, _ = _rate(_raw_blocks(task), seconds)
        stream_blocks = _stream_blocks(task)
        next(stream_blocks)  # the first batch pays for datasets' set-up
        stream, _ = _rate(stream_blocks, seconds)
        rows.append(
            {
                "task": task.name,
                "params": {k: v for k, v in task.params.items()},
                "length": task.length,
                "raw_samples_per_s": raw,
                "raw_tokens_per_s": raw * task.length,
                "stream_samples_per_s": stream,
                "stream_tokens_per_s": stream * task.length,
                "stream_over_raw": stream / raw if raw else float("nan"),
            }
        )
    return rows


def machine() -> dict[str, Any]:
    import platform

    return {"cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(), "numpy": np.__version__}
