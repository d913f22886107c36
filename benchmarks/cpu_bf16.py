"""Side by side on CPU: the training step in float32, in bf16 autocast, and in bf16 with bf16 attention.

bf16 autocast runs the matrix products on the CPU's bf16 units (AMX on recent Xeons), but
PyTorch's bf16 CPU attention is slower than its float32 one, so procpre runs attention in
float32 under bf16 (`procpre.modeling._attention`). The third arm undoes that to show what it
saves. All arms run the real optimiser step (data generation included) on the same model,
alternating in rounds.

    python3 benchmarks/cpu_bf16.py                 # the table in the README, about 5 minutes
    python3 benchmarks/cpu_bf16.py --rounds 1 --steps 3    # a quick look
"""

from __future__ import annotations

from unittest import mock

import torch

from procpre import modeling
from procpre.bench import alternate_loss_arms, side_by_side_args
from procpre.modeling import MaskedLMLoss
from procpre.tasks import get_task

CASES = [  # (task, params, model size, batch)
    ("set", {}, "4_4_256", 64),
    ("multiplication_5", {}, "4_8_512", 64),  # finding 4's downstream model and batch
    ("set", {}, "2_4_16", 64),
]


class Bf16Loss(MaskedLMLoss):
    """The loss under CPU bf16 autocast, as `--mixed-precision bf16` runs it."""

    def forward(self, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return super().forward(input_ids, loss_mask)


def _bf16_attention(query, key, value, mask, dropout, scale):  # what SDPA does with bf16 inputs
    return torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=mask, dropout_p=dropout, is_causal=mask is None, scale=scale
    )


class Bf16AttentionLoss(Bf16Loss):
    """bf16 autocast with attention left in bf16 (procpre before 2026-11-27)."""

    def forward(self, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
        with mock.patch.object(modeling, "_attention", _bf16_attention):
            return super().forward(input_ids, loss_mask)


def main() -> None:
    args = side_by_side_args(__doc__.splitlines()[0], steps=10, rounds=2)
    print("| task | model | batch | float32 ms/step | bf16, bf16 attention | bf16 (procpre) | speedup over float32 |")
    print("|---|---|---|---|---|---|---|")
    arms = {"float32": MaskedLMLoss, "bf16-attention": Bf16AttentionLoss, "bf16": Bf16Loss}
    for task_name, params, size, batch in CASES:
        ms = alternate_loss_arms(get_task(task_name, **params), size, batch, arms, args.steps, args.rounds)
        print(
            f"| {task_name} | `{size}` | {batch} | {ms['float32']:.1f} | {ms['bf16-attention']:.1f} "
            f"| {ms['bf16']:.1f} | {ms['float32'] / ms['bf16']:.2f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
