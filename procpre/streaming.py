"""Procedural streams as `datasets.IterableDataset`, sharded across DataLoader workers and ranks.

The stream yields whole Arrow blocks (fast path for `.iter(batch_size)`,
`with_format("numpy"|"torch")`), and splits work by *blocks*: worker `w` of `W`
takes blocks `w, w+W, ...` of its rank's blocks. Sample `i` is the same whoever
generates it (see `procpre.data`), and its global index travels in the `index` column.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
from datasets.iterable_dataset import _BaseExamplesIterable

from procpre.data import check_seed, iter_range, split_code
from procpre.tasks.base import Block, Task, TaskError

#: virtual shard count of an endless stream: any worker x rank count dividing it splits by shards
ENDLESS_SHARDS = 1024


def features(task: Task) -> datasets.Features:
    length = task.length
    return datasets.Features(
        {
            "input_ids": datasets.List(datasets.Value("int32"), length=length),
            "loss_mask": datasets.List(datasets.Value("int8"), length=length),
            "task": datasets.Value("string"),
            "index": datasets.Value("int64"),
        }
    )


def block_table(block: Block, first_index: int) -> pa.Table:
    """One Arrow table for a block (zero-copy fixed-size lists)."""
    n, length = block.input_ids.shape
    ids = pa.FixedSizeListArray.from_arrays(pa.array(block.input_ids.reshape(-1), pa.int32()), length)
    mask = pa.FixedSizeListArray.from_arrays(pa.array(block.loss_mask.reshape(-1).astype(np.int8), pa.int8()), length)
    return pa.table(
        {
            "input_ids": ids,
            "loss_mask": mask,
            "task": _task_column(block.task),
            "index": pa.array(np.arange(first_index, first_index + n, dtype=np.int64)),
        }
    )


def _task_column(tags: np.ndarray) -> pa.Array:
    """Task tags as Arrow strings; one repeated name (the common case) costs a `take`, not n strings."""
    if len(tags) and (tags == tags[0]).all():
        return pa.array([str(tags[0])], pa.string()).take(pa.array(np.zeros(len(tags), np.int32)))
    return pa.array(tags.tolist(), pa.string())


class BlockExamplesIterable(_BaseExamplesIterable):
    """`datasets` examples iterable over a task's blocks, with block-level sharding and resumable state."""

    def __init__(self, task: Task, seed: int, split: str, start: int, stop: int | None, lane: int = 0, lanes: int = 1):
        super().__init__()
        self.task, self.seed, self.split = task, seed, split
        self.start, self.stop, self.lane, self.lanes = start, stop, lane, lanes

    # -- iteration ---------------------------------------------------------------------
    def _blocks(self) -> Iterator[tuple[int, Block]]:
        skip = self._state_dict["blocks_done"] if self._state_dict else 0
        lane = self.lane + skip * self.lanes
        for first, block in iter_range(self.task, self.seed, self.split, self.start, self.stop, lane, self.lanes):
            yield first, block
            if self._state_dict:
                self._state_dict["blocks_done"] += 1

    def _iter_arrow(self) -> Iterator[tuple[str, pa.Table]]:
        for first, block in self._blocks():
            yield f"{self.split}-{first}", block_table(block, first)

    @property
    def iter_arrow(self):
        return self._iter_arrow

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for first, block in self._blocks():
            ids, mask, tags = block.input_ids.tolist(), block.loss_mask.astype(np.int8).tolist(), block.task.tolist()
            for offset in range(len(ids)):
                yield (
                    f"{self.split}-{first + offset}",
                    {
                        "input_ids": ids[offset],
                        "loss_mask": mask[offset],
                        "task": tags[offset],
                        "index": first + offset,
                    },
                )

    # -- sharding ----------------------------------------------------------------------
    @property
    def num_shards(self) -> int:
        if self.stop is None:
            return max(1, ENDLESS_SHARDS // self.lanes)
        size = self.task.block_size
        blocks = -(-self.stop // size) - self.start // size if self.stop > self.start else 0
        return max(0, -(-(blocks - self.lane) // self.lanes))

    def shard_data_sources(self, num_shards: int, index: int, contiguous: bool = True) -> BlockExamplesIterable:
        """Keep every `num_shards`-th block starting at `index` (strided, whatever `contiguous` asks)."""
        return BlockExamplesIterable(
            self.task,
            self.seed,
            self.split,
            self.start,
            self.stop,
            self.lane + index * self.lanes,
            self.lanes * num_shards,
        )

    def shuffle_data_sources(self, generator: np.random.Generator) -> BlockExamplesIterable:
        return self  # the order is part of the address; use IterableDataset.shuffle(buffer_size) to mix

    def reshard_data_sources(self) -> BlockExamplesIterable:
        return self

    def _init_state_dict(self) -> dict:
        self._state_dict = {"blocks_done": 0, "type": type(self).__name__}
        return self._state_dict


def procedural_dataset(
    task: Task, seed: int = 0, split: str = "train", num_samples: int | None = None, start: int = 0
) -> datasets.IterableDataset:
    """A ready `datasets.IterableDataset` of a task: endless when `num_samples` is None.

    Use `datasets.distributed.split_dataset_by_node` for ranks and a DataLoader with
    workers as usual; each sample carries its global `index`.
    """
    check_seed(seed)
    split_code(split)
    if num_samples is not None and num_samples < 0:
        raise TaskError(f"num_samples must be >= 0, got {num_samples}")
    stop = None if num_samples is None else start + num_samples
    info = datasets.DatasetInfo(features=features(task), description=f"procpre {task.name} stream")
    ex_iterable = BlockExamplesIterable(task, seed, split, start, stop)
    return datasets.IterableDataset(ex_iterable, info=info, split=datasets.NamedSplit(split))
