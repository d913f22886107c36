"""The main job on a small embedded default: data -> tiny pretraining -> a Hub-ready checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from procpre.config import load_config
from procpre.export import export_dataset
from procpre.train import TrainResult, train

#: small enough for a laptop CPU in about a minute, large enough that the loss visibly falls
DEMO_RECIPE: dict[str, Any] = {
    "task": "sort",
    "seq_length": 8,
    "vocab_size": 16,
    "model_size": "2_4_64",
    "batch_size": 64,
    "max_steps": 400,
    "lr": 3e-3,
    "lr_schedule": "cosine",
    "warmup_steps": 20,
    "weight_decay": 0.01,
    "eval_every_steps": 100,
    "eval_samples": 512,
    "save_every_steps": 200,
    "log_every_steps": 10,
}


def run_demo(out_dir: str | Path, overrides: dict[str, Any] | None = None) -> TrainResult:
    """Export the demo task's data, load it back with `datasets`, then pretrain on the same stream."""
    out = Path(out_dir)
    config = load_config(None, {**DEMO_RECIPE, "save_dir": str(out / "model"), **(overrides or {})})
    task = config.build_task()
    export = export_dataset(
        [task], out / "data", num_samples=4096, seed=config.seed, validation=512, command=f"procpre demo --out {out}"
    )
    loaded = datasets.load_dataset(str(export.out_dir), task.name, split="validation")
    print(f"data: {export.out_dir} ({len(loaded)} validation rows loaded back with datasets.load_dataset)")
    return train(config)
