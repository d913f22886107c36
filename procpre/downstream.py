"""Downstream stage: transfer from pretrained checkpoints, train with the same loop, score the fixed test set.

The test score goes through the `evaluate` metric modules procpre ships
(`procpre/metrics`), under three names: the published metric (`published_*`,
the release's mask, see SPEC.md), the token accuracy over the whole answer, and
exact match per sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import set_seed
from transformers import AutoModelForCausalLM

from procpre.config import TrainConfig
from procpre.data import fixed_test_set
from procpre.modeling import build_model
from procpre.tasks.base import Block, Grouping, Task
from procpre.train import TrainResult, train
from procpre.transfer import TransferReport, build_plan, freeze_components, transfer

TEST_METRICS = "test_metrics.json"
#: exact match on the test set by the task's error groups (`Task.error_groups`), for tasks that have some
TEST_BREAKDOWN = "test_breakdown.json"


@dataclass
class DownstreamResult:
    train: TrainResult
    transfer: TransferReport | None
    test: dict[str, float]
    breakdown: dict[str, Any] = field(default_factory=dict)  # `evaluate_test_set`: exact match per group of samples


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


def evaluate_test_set(
    model: torch.nn.Module, task: Task, seed: int, batch_size: int = 256
) -> tuple[dict[str, float], dict[str, Any]]:
    """(scores, breakdown) from one pass of the model over the fixed test set.

    Scores: published metric, whole-answer token accuracy and exact match, via `evaluate`. Breakdown: exact match
    per group of each of the task's error groups ({} if it has none).
    """
    from procpre.metrics import load_metric

    if task.kind == "language":  # corpora and formal languages: perplexity (+ answer accuracy), see lm_eval
        from procpre.lm_eval import score_lm

        return score_lm(model, task, seed, batch_size), {}
    block = fixed_test_set(task, seed) if task.heldout_size else _validation_block(task, seed)
    predicted = predict_next_tokens(model, block, batch_size)
    predictions, references = predicted[:, :-1], block.input_ids[:, 1:]
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
    groupings = task.error_groups(block.input_ids) if task.heldout_size else {}
    if not groupings:
        return out, {}
    right = answers_right(predicted, block)
    return out, {
        "exact_match": float(right.mean()),
        "samples": len(right),
        "groups": {name: _by_group(right, grouping) for name, grouping in groupings.items()},
    }


def answers_right(predictions: np.ndarray, block: Block) -> np.ndarray:
    """Per sample: every scored token predicted (`predict_next_tokens` layout; the exact-match criterion)."""
    scored = block.loss_mask[:, :-1]
    return ((predictions[:, :-1] == block.input_ids[:, 1:]) | ~scored).all(1)


def _by_group(right: np.ndarray, grouping: Grouping) -> list[dict[str, Any]]:
    index, labels = grouping
    rows = []
    for i, label in enumerate(labels):
        chosen = index == i
        if chosen.any():
            rows.append({"group": label, "samples": int(chosen.sum()), "exact_match": float(right[chosen].mean())})
    return rows


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
    test, breakdown = evaluate_test_set(final, task, config.seed, config.eval_batch_size)
    test["steps"] = float(result.state.step)
    _write_breakdown(breakdown, result.checkpoint, config)
    for folder in (result.checkpoint, Path(config.save_dir)):
        (folder / TEST_METRICS).write_text(json.dumps(test, indent=2) + "\n")  # last: it marks the run scored
    return DownstreamResult(result, report, test, breakdown)


def backfill_breakdown(checkpoint: Path, config: TrainConfig) -> None:
    """A run scored before its task had error groups gets its breakdown now, from its final checkpoint."""
    task = config.build_task()
    if type(task).error_groups is Task.error_groups or (Path(config.save_dir) / TEST_BREAKDOWN).exists():
        return
    model = AutoModelForCausalLM.from_pretrained(checkpoint)
    _write_breakdown(evaluate_test_set(model, task, config.seed, config.eval_batch_size)[1], checkpoint, config)


def _write_breakdown(breakdown: dict[str, Any], checkpoint: Path, config: TrainConfig) -> None:
    if not breakdown:
        return
    for folder in (checkpoint, Path(config.save_dir)):
        (folder / TEST_BREAKDOWN).write_text(json.dumps(breakdown, indent=2) + "\n")
