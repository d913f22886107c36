"""The main job on a small embedded default: data -> pretraining -> transfer -> downstream arms -> report.

Sized for a laptop CPU (a few minutes). It runs the same code as the full
recipes; only the numbers are small, so the report is a pipeline check, not a
scientific result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets

from procpre.compare import parse_comparison, run_comparison
from procpre.config import load_config
from procpre.export import export_dataset

PRETRAIN: dict[str, Any] = {
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
}

DEMO_COMPARISON: dict[str, Any] = {
    "title": "demo: sort pretraining -> downstream sorting (tiny, CPU)",
    "seeds": [0],
    "downstream": {
        "task": "sorting_8",
        "vocab": 16,
        "test_size": 1000,
        "model_size": "2_4_64",
        "batch_size": 64,
        "max_steps": 300,
        "lr": 3e-3,
        "lr_schedule": "cosine",
        "warmup_steps": 20,
        "weight_decay": 0.001,
        "eval_every_steps": 50,
        "eval_samples": 512,
        "save_every_steps": 300,
    },
    "arms": [
        {"name": "scratch"},
        {"name": "sort-pretrained", "pretrain": PRETRAIN, "transfer": "attn,ffn,ln", "embedding_init": "average"},
    ],
    "notes": ["Demo scale: checks the pipeline end to end; it is not expected to reproduce the paper's effects."],
}


def run_demo(out_dir: str | Path, max_steps: int | None = None) -> dict[str, Any]:
    """Export and reload the pretraining data, then run the demo comparison; returns the report."""
    out = Path(out_dir)
    pretrain = load_config(None, {**PRETRAIN, "save_dir": str(out / "unused")})
    task = pretrain.build_task()
    export = export_dataset(
        [task], out / "data", num_samples=4096, seed=0, validation=512, command=f"procpre demo --out {out}"
    )
    loaded = datasets.load_dataset(str(export.out_dir), task.name, split="validation")
    print(f"data: {export.out_dir} ({len(loaded)} validation rows loaded back with datasets.load_dataset)")
    spec = dict(DEMO_COMPARISON)
    if max_steps:
        spec = {
            **spec,
            "downstream": {
                **spec["downstream"],
                "max_steps": max_steps,
                "save_every_steps": max_steps,
                "eval_every_steps": max(1, max_steps // 2),
            },
            "arms": [
                spec["arms"][0],
                {**spec["arms"][1], "pretrain": {**PRETRAIN, "max_steps": max_steps, "save_every_steps": max_steps}},
            ],
        }
    return run_comparison(parse_comparison(spec), out)
