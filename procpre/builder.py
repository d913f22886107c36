"""The `datasets` builder behind `builders/`: one BuilderConfig per task, generation from `procpre.data`.

Streaming (`as_streaming_dataset`) yields Arrow blocks straight from the
generator; `download_and_prepare` writes the same blocks as Arrow tables
(through `ArrowBasedBuilder`'s writer), never row by row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import datasets
import pyarrow as pa

from procpre import __version__
from procpre.data import check_seed, iter_range
from procpre.streaming import BlockExamplesIterable, block_table, features
from procpre.tasks.base import Task
from procpre.tasks.registry import get_task

#: default split sizes of a prepared dataset; `endless=True` streams train without end
DEFAULT_SIZES = {"train": 100_000, "validation": 1_000, "test": 1_000}


@dataclass
class ProceduralConfig(datasets.BuilderConfig):
    """A task and its parameters (`params` overrides the paper's defaults), the seed and split sizes."""

    task: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    num_train: int = DEFAULT_SIZES["train"]
    #: stream the train split without end (`as_streaming_dataset` only)
    endless: bool = False
    num_validation: int = DEFAULT_SIZES["validation"]
    num_test: int = DEFAULT_SIZES["test"]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.task = self.task or self.name
        check_seed(self.seed)
        get_task(self.task, **self.params)  # validate now, with procpre's message

    def build_task(self) -> Task:
        return get_task(self.task, **self.params)

    def sizes(self) -> dict[str, int | None]:
        return {
            "train": None if self.endless else self.num_train,
            "validation": self.num_validation,
            "test": self.num_test,
        }


class ProceduralBuilder(datasets.GeneratorBasedBuilder):
    """Base of every builder in `builders/`: subclasses only list their task names in `TASK_NAMES`."""

    BUILDER_CONFIG_CLASS = ProceduralConfig
    TASK_NAMES: tuple[str, ...] = ()
    VERSION = datasets.Version(__version__)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.BUILDER_CONFIGS = [
            ProceduralConfig(name=name, task=name, version=datasets.Version(__version__), description=f"procpre {name}")
            for name in cls.TASK_NAMES
        ]
        if cls.TASK_NAMES:
            cls.DEFAULT_CONFIG_NAME = cls.TASK_NAMES[0]

    @property
    def task(self) -> Task:
        return self.config.build_task()

    def _info(self) -> datasets.DatasetInfo:
        task = self.task
        return datasets.DatasetInfo(
            description=(type(task).__doc__ or "").strip(),
            features=features(task),
            homepage="https://arxiv.org/abs/2601.21725",
        )

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "count": count})
            for split, count in self.config.sizes().items()
            if count is None or count > 0
        ]

    def _blocks(self, split: str, count: int | None) -> Iterator[tuple[int, Any]]:
        return iter_range(self.task, self.config.seed, split, 0, count)

    def _generate_examples(self, split: str, count: int | None) -> Iterator[tuple[int, dict[str, Any]]]:
        for first, block in self._blocks(split, count):
            for offset, (ids, mask, tag) in enumerate(zip(block.input_ids, block.loss_mask, block.task)):
                yield (
                    first + offset,
                    {"input_ids": ids, "loss_mask": mask.astype("int8"), "task": tag, "index": first + offset},
                )

    def _generate_tables(self, split: str, count: int | None) -> Iterator[tuple[int, pa.Table]]:
        if count is None:
            raise ValueError("an endless train split can only be streamed: drop endless=True to prepare it on disk")
        for first, block in self._blocks(split, count):
            yield first, block_table(block, first)

    # Prepared datasets are written block by block, through the Arrow-table writer.
    _prepare_split = datasets.ArrowBasedBuilder._prepare_split
    _prepare_split_single = datasets.ArrowBasedBuilder._prepare_split_single

    def _get_examples_iterable_for_split(self, split_generator: datasets.SplitGenerator) -> BlockExamplesIterable:
        kwargs = split_generator.gen_kwargs
        return BlockExamplesIterable(self.task, self.config.seed, kwargs["split"], 0, kwargs["count"])
