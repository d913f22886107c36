"""Downstream score of a language task: perplexity, and token accuracy / exact match, through `evaluate`.

The paper reports perplexity for C4 and CodeParrot and answer accuracy on the
interpolate and extrapolate splits for DeepMind Mathematics (SPEC.md). Both come
from the metric modules procpre ships: summed losses and scored-token counts go
through `perplexity_from_loss`, argmax predictions through `sequence_accuracy`
(for dm-math the scored positions are the answer tokens and their EOS).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from procpre.data import generate
from procpre.metrics import load_metric
from procpre.modeling import masked_token_losses
from procpre.tasks.base import Block, Task

#: generated language tasks (no `eval_splits`) are scored on this many test samples, like sequence tasks
GENERATED_TEST_SAMPLES = 4000
#: logits of one forward pass stay under this many floats (1 GiB): large vocabularies get smaller batches
LOGITS_BUDGET = 1 << 28


def score_lm(model: torch.nn.Module, task: Task, seed: int, batch_size: int = 256) -> dict[str, float]:
    """Metrics of each evaluation split of `task`; with several splits, prefixed ones and pooled unprefixed ones.

    A corpus task names its splits (`eval_splits`: "" -> test for C4/CodeParrot; interpolate_ and
    extrapolate_ for dm-math) and is scored on the whole split; other language tasks on their first
    test samples. The unprefixed keys (`perplexity`, `accuracy`, ...) are always there, so reports
    can read every run alike: for dm-math they pool both splits.
    """
    scored = {
        prefix: teacher_forced(model, generate(task, seed, split, 0, rows), batch_size)
        for prefix, (split, rows) in _eval_splits(task).items()
    }
    out: dict[str, float] = {}
    for prefix, passes in scored.items():
        out.update({prefix + key: value for key, value in passes.metrics().items()})
    if "" not in scored:
        out.update(Passes.pool(list(scored.values())).metrics())
    return out


def _eval_splits(task: Task) -> dict[str, tuple[str, int]]:
    named: dict[str, str] | None = getattr(task, "eval_splits", None)
    if named is None:
        return {"": ("test", GENERATED_TEST_SAMPLES)}
    return {prefix: (split, task.split_rows(split)) for prefix, split in named.items()}  # type: ignore[attr-defined]


@dataclass
class Passes:
    """What the forward passes over a block leave for the metric modules: per-batch loss sums and predictions."""

    block: Block
    loss_sums: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    predictions: list[np.ndarray] = field(default_factory=list)

    @staticmethod
    def pool(parts: list[Passes]) -> Passes:
        block = Block.concatenate([p.block for p in parts])
        return Passes(block, *(sum((getattr(p, f) for p in parts), []) for f in ("loss_sums", "counts", "predictions")))

    def metrics(self) -> dict[str, float]:
        """Perplexity via `perplexity_from_loss`, token accuracy and exact match via `sequence_accuracy`."""
        perplexity = load_metric("perplexity_from_loss").compute(loss_sums=self.loss_sums, token_counts=self.counts)
        width = self.block.input_ids.shape[1] - 1
        predicted = np.concatenate(self.predictions) if self.predictions else np.zeros((0, width), np.int64)
        accuracy = load_metric("sequence_accuracy").compute(
            predictions=predicted.tolist(),
            references=self.block.input_ids[:, 1:].tolist(),
            mask=self.block.loss_mask[:, :-1].astype(np.int8).tolist(),
        )
        return {
            "perplexity": float(perplexity["perplexity"]),
            "loss": float(perplexity["mean_loss"]),
            "accuracy": float(accuracy["accuracy"]),
            "exact_match": float(accuracy["exact_match"]),
            "test_tokens": float(perplexity["tokens"]),
            "test_samples": float(len(self.block)),
        }


@torch.no_grad()
def teacher_forced(model: torch.nn.Module, block: Block, batch_size: int = 256) -> Passes:
    """Summed next-token losses, scored-token counts and argmax predictions of `model` over `block`."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    passes = Passes(block)
    step = _rows_per_pass(model, block, batch_size)
    for lo in range(0, len(block), step):
        part = block[lo : lo + step]
        ids = torch.from_numpy(part.input_ids).to(device=device, dtype=torch.long)
        logits = model(input_ids=ids).logits
        passes.loss_sums.append(float(masked_token_losses(logits, ids, torch.from_numpy(part.loss_mask).to(device))))
        passes.counts.append(int(part.loss_mask[:, :-1].sum()))
        passes.predictions.append(logits[:, :-1].argmax(-1).cpu().numpy())
    model.train(was_training)
    return passes


def _rows_per_pass(model: torch.nn.Module, block: Block, batch_size: int) -> int:
    vocab = int(getattr(model.config, "vocab_size", 1))
    return max(1, min(batch_size, LOGITS_BUDGET // max(1, block.input_ids.shape[1] * vocab)))
