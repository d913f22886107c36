"""Side by side: the training step with the full GPT-2 forward vs the scored-rows forward procpre uses on CPU.

The scored-rows forward runs the last block (and the LM head) only where a loss is taken
(`procpre.modeling.scored_hidden_states`); it gives the same loss and gradients. Both arms
run the real optimiser step (`procpre.train._optimizer_step`, data generation included) on
the same model, alternating in rounds so machine noise hits both alike.

    python3 benchmarks/scored_forward.py            # the table below, about 3 minutes
    python3 benchmarks/scored_forward.py --rounds 1 --steps 5   # a quick look
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from accelerate import Accelerator

from procpre.config import TrainConfig
from procpre.modeling import MaskedLMLoss, build_model
from procpre.tasks import get_task
from procpre.train import _optimizer_step, build_optimizer, lr_lambda

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
    task = get_task(task_name, **params)
    config = TrainConfig(
        task=task.name, task_params=dict(task.params), model_size=size, batch_size=batch, max_steps=10**6
    )
    torch.manual_seed(0)
    model = build_model(size, task)
    accelerator = Accelerator(cpu=True)
    optimizer = build_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config))
    arms = {"full": FullForwardLoss(model), "scored": MaskedLMLoss(model)}
    step = 0
    times: dict[str, list[float]] = {name: [] for name in arms}
    for round_ in range(rounds + 1):  # round 0 warms up
        for name, loss in arms.items():
            start = time.perf_counter()
            for _ in range(steps):
                _optimizer_step(config, loss, optimizer, scheduler, accelerator, task, step, 0, 1)
                step += 1
            if round_:
                times[name].append((time.perf_counter() - start) / steps * 1000)
    full, scored = statistics.median(times["full"]), statistics.median(times["scored"])
    return {"full_ms": full, "scored_ms": scored, "speedup": full / scored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per arm per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median over {args.rounds} rounds")
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
