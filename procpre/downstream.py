"""Downstream stage: transfer from pretrained checkpoints, train with the same loop, score the fixed test set.

The test score goes through the `evaluate` metric modules procpre ships
(`procpre/metrics`), under three names: the published metric (`published_*`,
the release's mask, see SPEC.md), the token accuracy over the whole answer, and
exact match per sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import set_seed
from transformers import AutoModelForCausalLM

from procpre.config import TrainConfig
from procpre.data import fixed_test_set
from procpre.modeling import build_model
from procpre.tasks.base import Block, Task
from procpre.train import TrainResult, train
from procpre.transfer import TransferReport, build_plan, freeze_components, transfer

TEST_METRICS = "test_metrics.json"


@dataclass
class DownstreamResult:
    train: TrainResult
    transfer: TransferReport | None
    test: dict[str, float]


@torch.no_grad()
def predict_next_tokens(model: torch.nn.Module, block: Block, batch_size: int = 256) -> np.ndarray:
    """Teacher-forced argmax predictions; column i predicts token i+1 (last column is unused)."""
    model.eval()
    device = next(model.parameters()).device
    out = np.zeros_like(block.input_ids)
    for lo in range(0, len(block), batch_size):
        ids = torch.from_numpy(block.input_ids[lo : lo + batch_size]).to(device=device, dtype=torch.long)
        out[lo : lo + batch_size, :-1] = model(input_ids=ids).logits[:, :-1].argmax(-1).cpu().numpy()
    return out


def score_test_set(model: torch.nn.Module, task: Task, seed: int, batch_size: int = 256) -> dict[str, float]:
    """Published metric, whole-answer token accuracy and exact match on the fixed test set, via `evaluate`."""
    from procpre.metrics import load_metric

    if task.kind == "language":  # corpora and formal languages: perplexity (+ answer accuracy), see lm_eval
        from procpre.lm_eval import score_lm

        return score_lm(model, task, seed, batch_size)
    block = fixed_test_set(task, seed) if task.heldout_size else _validation_block(task, seed)
    predictions = predict_next_tokens(model, block, batch_size)[:, :-1]
    references = block.input_ids[:, 1:]
    metric = load_metric("sequence_accuracy")
    masks = {"": block.loss_mask, **{f"{k}_": v for k, v in task.metric_masks(block.input_ids).items()}}
    out: dict[str, float] = {"test_samples": float(len(block))}
    for prefix, mask in masks.items():
        result = metric.compute(
            predictions=predictions.tolist(), references=references.tolist(), mask=mask[:, :-1].astype(np.int8).tolist()
        )
        out[f"{prefix}accuracy"] = float(result["accuracy"])
        if not prefix:
            out["exact_match"] = float(result["exact_match"])
    return out


def _validation_block(task: Task, seed: int, n: int = 4000) -> Block:
    from procpre.data import generate

    return generate(task, seed, "test", 0, n)


def run_downstream(config: TrainConfig, mix: dict[str, str] | None = None) -> DownstreamResult:
    """Build the downstream model, transfer what the config asks, train, and score the test set."""
    task = config.build_task()
    set_seed(config.seed)  # the fresh layers' initialisation is part of the run: same seed, same model
    model = build_model(config.model_size, task, config.dropout)
    plan = build_plan(config.pretrained, config.transfer, mix)
    report = transfer(model, plan, config.embedding_init, config.freeze) if plan else None
    if report is None and config.freeze:
        freeze_components(model, config.freeze)
    meta: dict[str, Any] = {"transfer": report.as_dict() if report else None}
    result = train(config, model=model, stage="downstream", extra_meta=meta)
    if result.checkpoint is None or result.stopped == "interrupted":
        return DownstreamResult(result, report, {})  # an unfinished model is not scored: resume it first
    final = AutoModelForCausalLM.from_pretrained(result.checkpoint)
    test = score_test_set(final, task, config.seed, config.eval_batch_size)
    test["steps"] = float(result.state.step)
    for folder in (result.checkpoint, Path(config.save_dir)):
        (folder / TEST_METRICS).write_text(json.dumps(test, indent=2) + "\n")
    return DownstreamResult(result, report, test)
