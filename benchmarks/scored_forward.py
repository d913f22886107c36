"""Side by side: the training step with the full GPT-2 forward vs the scored-rows forward procpre uses on CPU.

The scored-rows forward runs the last block (and the LM head) only where a loss is taken
(`procpre.modeling.scored_hidden_states`); it gives the same loss and gradients. Both arms
run the real optimiser step (`procpre.train._optimizer_step`, data generation included) on
the same model, alternating in rounds so machine noise hits both alike.

    python3 benchmarks/scored_forward.py            # the table below, about 3 minutes
    python3 benchmarks/scored_forward.py --rounds 1 --steps 5   # a quick look
"""

from __future__ import annotations

import torch

from procpre.bench import alternate_loss_arms, side_by_side_args
from procpre.modeling import MaskedLMLoss
from procpre.tasks import get_task

CASES = [  # (task, params, model size, batch)
    ("condattendstream_30", {}, "2_4_16", 1000),
    ("sorting_10", {}, "2_4_16", 1000),
    ("set", {}, "2_4_16", 64),
    ("set", {}, "4_4_256", 64),
]


class FullForwardLoss(MaskedLMLoss):
    """The baseline: every block on every position, the LM head on scored rows only."""

    def forward(self, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
        scored = loss_mask[:, :-1].bool()
        hidden = self.model.transformer(input_ids=input_ids).last_hidden_state[:, :-1][scored]
        targets = input_ids[:, 1:].long()[scored]
        return torch.nn.functional.cross_entropy(self.model.lm_head(hidden).float(), targets, reduction="sum")


def time_case(task_name: str, params: dict, size: str, batch: int, steps: int, rounds: int) -> dict[str, float]:
    arms = {"full": FullForwardLoss, "scored": MaskedLMLoss}
    ms = alternate_loss_arms(get_task(task_name, **params), size, batch, arms, steps, rounds)
    return {"full_ms": ms["full"], "scored_ms": ms["scored"], "speedup": ms["full"] / ms["scored"]}


def main() -> None:
    args = side_by_side_args(__doc__.splitlines()[0], steps=10, rounds=3)
    print("| task | model | batch | full forward ms/step | scored rows ms/step | speedup |")
    print("|---|---|---|---|---|---|")
    for task_name, params, size, batch in CASES:
        row = time_case(task_name, params, size, batch, args.steps, args.rounds)
        print(
            f"| {task_name} | `{size}` | {batch} | {row['full_ms']:.1f} | {row['scored_ms']:.1f} "
            f"| {row['speedup']:.2f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
