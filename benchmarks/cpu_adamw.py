"""Side by side on CPU: one AdamW step as a per-tensor loop, with foreach kernels, and fused.

procpre's optimiser (`procpre.train.build_optimizer`) uses the fused kernel on CPU and CUDA;
PyTorch's default on CPU is the per-tensor loop. Same model, random gradients, alternating
implementations in rounds.

    python3 benchmarks/cpu_adamw.py        # the README's table, under a minute
"""

from __future__ import annotations

import statistics
import time

import torch

from procpre.bench import side_by_side_args
from procpre.modeling import build_model
from procpre.tasks import get_task

CASES = [("condattendstream_30", "2_4_16"), ("set", "4_4_256"), ("multiplication_5", "4_8_512")]
IMPLEMENTATIONS = {"per-tensor loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def time_optimizers(task_name: str, size: str, steps: int, rounds: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = build_model(size, get_task(task_name))
    for param in model.parameters():
        param.grad = torch.randn_like(param)
    optimizers = {
        name: torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1, **options)
        for name, options in IMPLEMENTATIONS.items()
    }
    times: dict[str, list[float]] = {name: [] for name in optimizers}
    for round_ in range(rounds + 1):  # round 0 warms up
        for name, optimizer in optimizers.items():
            start = time.perf_counter()
            for _ in range(steps):
                optimizer.step()
            if round_:
                times[name].append((time.perf_counter() - start) / steps * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    args = side_by_side_args(__doc__.splitlines()[0], steps=20, rounds=3)
    print("| model | parameters | per-tensor loop ms | foreach ms | fused ms | fused speedup |")
    print("|---|---|---|---|---|---|")
    for task_name, size in CASES:
        ms = time_optimizers(task_name, size, args.steps, args.rounds)
        parameters = sum(p.numel() for p in build_model(size, get_task(task_name)).parameters())
        print(
            f"| `{size}` | {parameters:,} | {ms['per-tensor loop']:.2f} | {ms['foreach']:.2f} | {ms['fused']:.2f} "
            f"| {ms['per-tensor loop'] / ms['fused']:.1f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
