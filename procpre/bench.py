"""Throughput benchmarks: what the data path delivers, measured side by side in one run."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from procpre.data import generate_block
from procpre.streaming import procedural_dataset
from procpre.tasks.base import Task


def _rate(blocks: Iterator[int], seconds: float) -> tuple[float, int]:
    """Consume an iterator of per-item sample counts for about `seconds`; return (samples/s, samples)."""
    start = time.perf_counter()
    samples = 0
    for n in blocks:
        samples += n
        if time.perf_counter() - start >= seconds:
            break
    return samples / (time.perf_counter() - start), samples


def _raw_blocks(task: Task) -> Iterator[int]:
    block = 0
    while True:
        yield len(generate_block(task, 0, "train", block))
        block += 1


def _stream_blocks(task: Task) -> Iterator[int]:
    """The `datasets` path as a trainer reads it: Arrow batches turned into numpy arrays."""
    stream = procedural_dataset(task, seed=0).with_format("arrow")
    for table in stream.iter(batch_size=task.block_size):
        ids = table.column("input_ids").combine_chunks().flatten().to_numpy()
        yield len(ids) // task.length


def bench_data(tasks: list[Task], seconds: float = 2.0) -> list[dict[str, Any]]:
    """Samples/s and tokens/s of the raw generator and the datasets stream, per task, one process."""
    rows = []
    for task in tasks:
        generate_block(task, 0, "validation", 0)  # warm up compiled kernels outside the timing
        raw, _ = _rate(_raw_blocks(task), seconds)
        stream_blocks = _stream_blocks(task)
        next(stream_blocks)  # the first batch pays for datasets' set-up
        stream, _ = _rate(stream_blocks, seconds)
        rows.append(
            {
                "task": task.name,
                "params": {k: v for k, v in task.params.items()},
                "length": task.length,
                "raw_samples_per_s": raw,
                "raw_tokens_per_s": raw * task.length,
                "stream_samples_per_s": stream,
                "stream_tokens_per_s": stream * task.length,
                "stream_over_raw": stream / raw if raw else float("nan"),
            }
        )
    return rows


def machine() -> dict[str, Any]:
    import platform

    return {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


#: dense bf16 peak FLOP/s used for MFU (override with --peak-tflops for other cards)
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def train_flops_per_token(model: Any, seq_len: int) -> float:
    """6N for the matmuls of forward+backward plus 12·layers·width·seq for attention (PaLM appendix B)."""
    cfg = model.config
    n = sum(p.numel() for name, p in model.named_parameters() if "wpe" not in name)
    return 6 * n + 12 * cfg.n_layer * cfg.n_embd * seq_len


def bench_train(
    model_size: str,
    task: Task,
    batch_size: int = 64,
    steps: int = 20,
    warmup: int = 3,
    device: str = "cpu",
    mixed_precision: str = "no",
    compile_mode: str = "no",
    peak_tflops: float | None = None,
) -> dict[str, Any]:
    """Step time and tokens/s of the real training step (data generation included), after warm-up.

    On a GPU it also profiles a few steps: the device's busy time per step beside the wall time
    says whether the step is bound by the GPU or by the host (launches, data).
    """
    import torch
    from accelerate import Accelerator

    from procpre.config import TrainConfig
    from procpre.train import _hf_model, _optimizer_step, check_precision, prepare_training  # flushes subnormals

    config = TrainConfig(
        task=task.name,
        task_params=dict(task.params),
        model_size=model_size,
        batch_size=batch_size,
        max_steps=steps + warmup,
        mixed_precision=mixed_precision,
        torch_compile=compile_mode,
    ).validate()
    check_precision(mixed_precision, device)
    accelerator = Accelerator(cpu=device == "cpu", mixed_precision=mixed_precision)
    model, optimizer, scheduler = prepare_training(config, accelerator, None, task)

    def run(first: int, count: int) -> float:
        start = time.perf_counter()
        for step in range(first, first + count):
            _optimizer_step(config, model, optimizer, scheduler, accelerator, task, step, 0, 1)
        if accelerator.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    run(0, warmup)
    elapsed = run(warmup, steps)
    step_s = elapsed / steps
    hf_model = _hf_model(accelerator, model)
    tokens_per_s = batch_size * task.length / step_s
    result = {
        "model_size": model_size,
        "task": task.name,
        "seq_len": task.length,
        "batch_size": batch_size,
        "device": str(accelerator.device),
        "mixed_precision": mixed_precision,
        "compile": compile_mode,
        "steps": steps,
        "ms_per_step": 1000 * step_s,
        "tokens_per_s": tokens_per_s,
        "num_parameters": sum(p.numel() for p in hf_model.parameters()),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    if accelerator.device.type == "cuda":
        profiled = min(steps, 10)
        result.update(_gpu_figures(lambda: run(warmup + steps, profiled), profiled, peak_tflops))
        if "peak_tflops" in result:
            positions = task.length - 1  # the model computes every position but the last (only a target)
            flops = train_flops_per_token(hf_model, positions) * batch_size * positions / step_s
            result.update(achieved_tflops=flops / 1e12, mfu=flops / (result["peak_tflops"] * 1e12))
    return result


def _gpu_figures(profile_steps: Any, profiled: int, peak_tflops: float | None) -> dict[str, Any]:
    """The GPU's name and peak, and its busy time per step over `profile_steps` (which runs `profiled` steps)."""
    import torch

    name = torch.cuda.get_device_name()
    peak = peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    figures: dict[str, Any] = {"gpu": name, **({"peak_tflops": peak} if peak else {})}
    try:
        kernels, operators = _device_time_ms(profile_steps)
        figures["gpu_busy_ms_per_step"] = sum(kernels.values()) / profiled
        figures["top_kernels_ms_per_step"] = _slowest(kernels, profiled)
        figures["top_operators_device_ms_per_step"] = _slowest(operators, profiled)
    except RuntimeError as err:  # a diagnostic: the step timing stands without it
        figures["gpu_busy_error"] = str(err)
    return figures


def _device_time_ms(work: Any) -> tuple[dict[str, float], dict[str, float]]:
    """Milliseconds the GPU spent in each kernel and copy while `work()` ran (torch.profiler, CUPTI),
    and the same time by the PyTorch operator that launched it.

    The kernels' sum is the device's busy time; the largest say where a GPU-bound step goes. The
    operators say which of them eager code launched (an `aten::sum` outside the compiled graph)
    rather than the compiled graph's own kernels, which no operator launches.

    Only device-side events count as kernels: a CPU operator's device time repeats its kernels'
    time (summing both doubled the figure in the first H100 measurement).
    """
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        work()
    events = prof.key_averages()
    kernels = {  # a record_function range (Optimizer.step) shows on the device too: not a kernel
        e.key: e.self_device_time_total / 1000
        for e in events
        if e.device_type == DeviceType.CUDA and not getattr(e, "is_user_annotation", False)
    }
    operators = {
        e.key: e.self_device_time_total / 1000
        for e in events
        if e.device_type == DeviceType.CPU and e.key.startswith("aten::") and e.self_device_time_total > 0
    }
    return kernels, operators


def _slowest(times: dict[str, float], steps: int, count: int = 15) -> dict[str, float]:
    slowest = sorted(times.items(), key=lambda item: -item[1])[:count]
    return {name[:120]: ms / steps for name, ms in slowest}


def alternate_loss_arms(
    task: Task, size: str, batch: int, arms: dict[str, Any], steps: int = 10, rounds: int = 3
) -> dict[str, float]:
    """Median ms per real CPU optimiser step for each arm, timed side by side on one model.

    `arms` maps a name to a function that wraps the model in the loss module to time (e.g. a
    `MaskedLMLoss` variant). The arms share the model, optimiser and data stream and alternate
    in rounds, so the machine's noise hits all alike; round 0 warms up (oneDNN builds its
    kernels for each new shape).
    """
    import statistics

    import torch
    from accelerate import Accelerator

    from procpre.config import TrainConfig
    from procpre.modeling import build_model
    from procpre.train import _optimizer_step, build_optimizer, lr_lambda

    config = TrainConfig(
        task=task.name, task_params=dict(task.params), model_size=size, batch_size=batch, max_steps=10**6
    )
    torch.manual_seed(0)
    model = build_model(size, task)
    accelerator = Accelerator(cpu=True)
    optimizer = build_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config))
    losses = {name: wrap(model) for name, wrap in arms.items()}
    times: dict[str, list[float]] = {name: [] for name in arms}
    step = 0
    for round_ in range(rounds + 1):
        for name, loss in losses.items():
            start = time.perf_counter()
            for _ in range(steps):
                _optimizer_step(config, loss, optimizer, scheduler, accelerator, task, step, 0, 1)
                step += 1
            if round_:
                times[name].append((time.perf_counter() - start) / steps * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def side_by_side_args(description: str, steps: int = 10, rounds: int = 3) -> Any:
    """The `--steps`/`--rounds` options of the side-by-side benchmark scripts; prints what ran them."""
    import argparse

    import torch

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=steps, help="steps per arm per round")
    parser.add_argument("--rounds", type=int, default=rounds)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median over {args.rounds} rounds")
    return args
