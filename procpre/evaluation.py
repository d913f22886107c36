"""Teacher-forced evaluation of a causal LM on a task's scored positions.

Three numbers per task: `loss` (cross-entropy per scored token), `accuracy`
(token accuracy over scored positions) and `exact_match` (every scored token of
the sample right). For sequence tasks `verified` also runs the task's verifier on
the sample with its answer replaced by the model's predictions, so a task whose
answer is not unique is still scored correctly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from procpre.tasks.base import Block, Task


@dataclass
class EvalSums:
    """Additive sums, so shards evaluated on different processes can be reduced by summing.

    `extra` holds (correct, scored) per named metric mask of the task (e.g. `published`).
    """

    loss: float = 0.0
    tokens: int = 0
    correct: int = 0
    samples: int = 0
    exact: int = 0
    verified: int = 0
    extra: dict[str, list[int]] = field(default_factory=dict)

    def add(self, other: EvalSums) -> None:
        for name in ("loss", "tokens", "correct", "samples", "exact", "verified"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name, (hit, total) in other.extra.items():
            mine = self.extra.setdefault(name, [0, 0])
            mine[0] += hit
            mine[1] += total

    def as_tensor(self, device: torch.device, names: list[str]) -> torch.Tensor:
        values = [self.loss, self.tokens, self.correct, self.samples, self.exact, self.verified]
        for name in names:
            values += self.extra.get(name, [0, 0])
        return torch.tensor(values, dtype=torch.float64, device=device)

    @classmethod
    def from_tensor(cls, t: torch.Tensor, names: list[str]) -> EvalSums:
        v = t.tolist()
        extra = {name: [int(v[6 + 2 * i]), int(v[7 + 2 * i])] for i, name in enumerate(names)}
        return cls(v[0], int(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]), extra)

    def metrics(self, task: Task) -> dict[str, float]:
        out = {
            "loss": self.loss / max(self.tokens, 1),
            "accuracy": self.correct / max(self.tokens, 1),
            "exact_match": self.exact / max(self.samples, 1),
        }
        if task.kind == "sequence":
            out["verified"] = self.verified / max(self.samples, 1)
        for name, (hit, total) in sorted(self.extra.items()):
            out[f"{name}_accuracy"] = hit / max(total, 1)
        return out


@torch.no_grad()
def evaluate_block(model: torch.nn.Module, task: Task, block: Block, batch_size: int, device: torch.device) -> EvalSums:
    """Sums over `block`, evaluated in batches of `batch_size`."""
    was_training = model.training
    model.eval()
    sums = EvalSums()
    for lo in range(0, len(block), batch_size):
        part = block[lo : lo + batch_size]
        ids = torch.from_numpy(part.input_ids).to(device=device, dtype=torch.long)
        mask = torch.from_numpy(part.loss_mask[:, :-1]).to(device)
        logits = model(input_ids=ids).logits[:, :-1].float()
        targets = ids[:, 1:]
        losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        pred = logits.argmax(-1)
        hit = (pred == targets) & mask
        sums.loss += float((losses * mask).sum())
        sums.tokens += int(mask.sum())
        sums.correct += int(hit.sum())
        sums.samples += len(part)
        sums.exact += int(((hit | ~mask).all(dim=1)).sum())
        for name, extra_mask in task.metric_masks(part.input_ids).items():
            m = torch.from_numpy(extra_mask[:, :-1]).to(device)
            mine = sums.extra.setdefault(name, [0, 0])
            mine[0] += int(((pred == targets) & m).sum())
            mine[1] += int(m.sum())
        if task.kind == "sequence":
            filled = part.input_ids.copy()
            scored = part.loss_mask[:, :-1]
            filled[:, 1:][scored] = pred.cpu().numpy()[scored]
            sums.verified += int(np.asarray(task.verify(filled)).sum())
    model.train(was_training)
    return sums
