"""Write procedural datasets as Hub-layout parquet folders with a dataset card.

Layout (one config per task, loadable with `load_dataset(DIR, "set")`):

    DIR/README.md                 dataset card; its YAML lists the configs
    DIR/procpre.json              what generated each config (task, params, seed, sizes)
    DIR/<config>/<split>-00000-of-00001.parquet

An export never half-overwrites: it checks the folder first, writes into a
temporary sibling, then moves finished configs in and replaces the card last.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq

from procpre import __version__
from procpre.cards import render_dataset_card
from procpre.data import check_seed, fixed_test_set, iter_range
from procpre.streaming import block_table, features
from procpre.tasks.base import Task, TaskError

MANIFEST = "procpre.json"
#: about this many tokens per parquet file
TOKENS_PER_SHARD = 64_000_000


class ExportError(TaskError):
    """The export cannot proceed; nothing was changed on disk."""


@dataclass
class ConfigSpec:
    """What one config of an exported dataset holds."""

    task: Task
    seed: int
    splits: dict[str, int]
    config_name: str | None = None  # default: the task's name

    @property
    def name(self) -> str:
        return self.config_name or self.task.name

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "task": self.task.config_dict(),
            "seed": self.seed,
            "splits": self.splits,
            "length": self.task.length,
            "vocab_size": self.task.vocab_size,
            "procpre_version": __version__,
        }


@dataclass
class ExportResult:
    out_dir: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def read_manifest(out_dir: Path) -> dict[str, Any]:
    path = out_dir / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {"configs": {}}


def _same_data(old: dict[str, Any], new: dict[str, Any]) -> bool:
    keys = ("task", "seed", "splits")
    return all(old.get(k) == new.get(k) for k in keys)


def plan_export(out_dir: Path, specs: list[ConfigSpec]) -> tuple[list[ConfigSpec], list[str]]:
    """Which configs to write and which are already there; raise if the folder holds other data."""
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ExportError(f"a task appears twice in one export: {names}; export each parameter set to its own folder")
    if out_dir.exists() and not out_dir.is_dir():
        raise ExportError(f"--out {out_dir} exists and is not a folder")
    existing = read_manifest(out_dir)["configs"] if out_dir.exists() else {}
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).exists():
        raise ExportError(
            f"--out {out_dir} already holds files that are not a procpre export; choose an empty or new folder"
        )
    todo, unchanged = [], []
    for spec in specs:
        old = existing.get(spec.name)
        if old is None:
            todo.append(spec)
        elif _same_data(old, spec.manifest_entry()):
            unchanged.append(spec.name)
        else:
            raise ExportError(
                f"--out {out_dir} already holds config {spec.name!r} with different data "
                f"(there: {json.dumps({k: old[k] for k in ('task', 'seed', 'splits')})}; "
                f"asked: {json.dumps({k: spec.manifest_entry()[k] for k in ('task', 'seed', 'splits')})}). "
                "Use another --out, or delete that folder first."
            )
    return todo, unchanged


def _write_split(spec: ConfigSpec, split: str, count: int, folder: Path) -> None:
    task = spec.task
    schema = features(task).arrow_schema
    if split == "test" and task.heldout_size:  # the distinct samples the training stream never emits
        path = folder / "test-00000-of-00001.parquet"
        pq.write_table(block_table(fixed_test_set(task, spec.seed)[:count], 0).cast(schema), path)
        return
    per_shard = max(task.block_size, (TOKENS_PER_SHARD // task.length) // task.block_size * task.block_size)
    num_shards = max(1, -(-count // per_shard))
    for shard in range(num_shards):
        start, stop = shard * per_shard, min(count, (shard + 1) * per_shard)
        path = folder / f"{split}-{shard:05d}-of-{num_shards:05d}.parquet"
        with pq.ParquetWriter(path, schema) as writer:
            for first, block in iter_range(task, spec.seed, split, start, stop):
                writer.write_table(block_table(block, first).cast(schema))


def export_dataset(
    tasks: list[Task],
    out_dir: str | os.PathLike[str],
    num_samples: int,
    seed: int = 0,
    validation: int = 0,
    test: int = 0,
    command: str | None = None,
    names: list[str] | None = None,
) -> ExportResult:
    """Generate and write every task as one config (named `names`, default the task names); see the module
    docstring for the layout. A downstream task's test split is its held-out test set, as a run scores it."""
    check_seed(seed)
    _check_sizes(tasks, num_samples, validation, test)
    out = Path(out_dir)
    splits = {"train": num_samples, "validation": validation, "test": test}
    names = names or [None] * len(tasks)
    specs = [ConfigSpec(t, seed, {k: v for k, v in splits.items() if v}, n) for t, n in zip(tasks, names)]
    todo, unchanged = plan_export(out, specs)
    result = ExportResult(out, unchanged=unchanged)
    if not todo:
        return result
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _write_staged(staging, out, todo, command)
        if not out.exists():
            os.replace(staging, out)
        else:
            for spec in todo:
                os.replace(staging / spec.name, out / spec.name)
            for name in ("README.md", MANIFEST):  # the card goes last: it is what lists the configs
                os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    result.written = [s.name for s in todo]
    return result


def _check_sizes(tasks: list[Task], num_samples: int, validation: int, test: int) -> None:
    """Refuse split sizes that cannot be written, before anything is generated."""
    for name, count in (("--num-samples", num_samples), ("--validation", validation), ("--test", test)):
        if count < 0:
            raise ExportError(f"{name} must be >= 0, got {count}")
    if num_samples == 0:
        raise ExportError("--num-samples must be >= 1")
    for task in tasks:
        if task.heldout_size and test > task.heldout_size:
            raise ExportError(
                f"--test {test} exceeds {task.name}'s held-out test set ({task.heldout_size} samples); "
                f"lower --test or raise -p test_size"
            )


def _write_staged(staging: Path, out: Path, todo: list[ConfigSpec], command: str | None) -> None:
    """The new configs, and the manifest and card of `out` once they are in, written into `staging`."""
    for spec in todo:
        folder = staging / spec.name
        folder.mkdir()
        for split, count in spec.splits.items():
            _write_split(spec, split, count, folder)
    manifest = read_manifest(out) if out.exists() else {"configs": {}}
    for spec in todo:
        manifest["configs"][spec.name] = spec.manifest_entry()
    manifest["command"] = command
    all_specs = dict(sorted(manifest["configs"].items()))
    (staging / "README.md").write_text(render_dataset_card(all_specs, command))
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def load_exported(out_dir: str | os.PathLike[str], config: str, split: str = "train", streaming: bool = False):
    """`datasets.load_dataset` of an exported folder (what a user types, kept here for the CLI and tests)."""
    return datasets.load_dataset(str(out_dir), config, split=split, streaming=streaming)
