"""Addressing: a sample is a pure function of (task parameters, seed, split, index).

Samples are generated in fixed-size blocks (`task.block_size`); block `b` of a
split draws from `SeedSequence([seed, split code, task code, b])`. So

- any index range can be regenerated without replaying earlier samples;
- train, validation and test draw from different seed sequences and never collide;
- two tasks never share a stream (the task name is part of the seed);
- the content of sample `i` does not depend on batch size, workers or processes:
  those only decide *who* generates which blocks.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from functools import lru_cache

import numpy as np

from procpre.tasks.base import Block, Task, TaskError

SPLITS: dict[str, int] = {"train": 0, "validation": 1, "test": 2}


def split_code(split: str) -> int:
    if split not in SPLITS:
        raise TaskError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    return SPLITS[split]


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**63:
        raise TaskError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    return int(seed)


def task_code(task: Task) -> int:
    """A stable 32-bit code of the task's name, so tasks draw independent streams."""
    return zlib.crc32(task.name.encode())


def block_rng(task: Task, seed: int, split: str, block: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([check_seed(seed), split_code(split), task_code(task), block]))


def generate_block(task: Task, seed: int, split: str, block: int) -> Block:
    """Block `block` of a split: samples `block*B .. (block+1)*B - 1` with `B = task.block_size`.

    For tasks with a held-out test set, training blocks skip every sample of that set
    (drawing replacements from the same generator), so the held-out set is never trained on.
    """
    stored = task.stored_block(seed, split, block)
    if stored is not None:
        return stored
    rng = block_rng(task, seed, split, block)
    if split != "train" or not task.heldout_size:
        return task.sample(rng, task.block_size)
    heldout = heldout_keys(task, seed)
    parts, kept = [], 0
    while kept < task.block_size:
        drawn = task.sample(rng, task.block_size)
        keep = np.fromiter((row.tobytes() not in heldout for row in drawn.input_ids), bool, len(drawn))
        parts.append(drawn[keep])
        kept += int(keep.sum())
    return Block.concatenate(parts)[: task.block_size]


@lru_cache(maxsize=16)
def fixed_test_set(task: Task, seed: int) -> Block:
    """The first `task.heldout_size` *distinct* samples of the test split: a fixed test set without duplicates."""
    want, seen, parts, kept = task.heldout_size, set(), [], 0
    for block in range(1000):
        drawn = task.sample(block_rng(task, seed, "test", block), task.block_size)
        keep = np.zeros(len(drawn), bool)
        for i, row in enumerate(drawn.input_ids):
            key = row.tobytes()
            if key not in seen and kept + int(keep.sum()) < want:
                seen.add(key)
                keep[i] = True
        parts.append(drawn[keep])
        kept += int(keep.sum())
        if kept >= want:
            return Block.concatenate(parts)
    raise TaskError(f"{task.name}: could not find test_size={want} distinct samples; lower 'test_size'")


@lru_cache(maxsize=16)
def heldout_keys(task: Task, seed: int) -> frozenset[bytes]:
    return frozenset(row.tobytes() for row in fixed_test_set(task, seed).input_ids)


def generate(task: Task, seed: int, split: str, start: int, stop: int) -> Block:
    """Samples `start .. stop-1` of a split, exactly as any other access path sees them."""
    if not 0 <= start <= stop:
        raise TaskError(f"sample range must satisfy 0 <= start <= stop, got [{start}, {stop})")
    blocks = list(iter_range(task, seed, split, start, stop))
    if not blocks:
        return task.sample(block_rng(task, seed, split, 0), 0)
    return Block.concatenate([b for _, b in blocks])


def iter_range(
    task: Task, seed: int, split: str, start: int, stop: int | None, lane: int = 0, lanes: int = 1
) -> Iterator[tuple[int, Block]]:
    """Yield (first index, block) over `[start, stop)` (endless if `stop` is None), block by block.

    With `lanes > 1` only the blocks `b` with `b % lanes == lane` (counted from the
    first block of the range) are produced: lanes split the work without overlap.
    """
    size = task.block_size
    first = start // size
    block = first + lane
    while stop is None or block * size < stop:
        lo = max(start, block * size)
        hi = (block + 1) * size if stop is None else min(stop, (block + 1) * size)
        full = generate_block(task, seed, split, block)
        yield lo, full[lo - block * size : hi - block * size]
        block += lanes


def batch_indices(step: int, global_batch: int, rank: int = 0, world_size: int = 1) -> tuple[int, int]:
    """Sample range of one process's share of optimiser step `step` (used by the trainer)."""
    if global_batch % world_size:
        raise TaskError(f"global batch {global_batch} is not divisible by the {world_size} processes")
    per_rank = global_batch // world_size
    start = step * global_batch + rank * per_rank
    return start, start + per_rank
