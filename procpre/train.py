"""The one training loop (procedural pretraining and every downstream stage), on accelerate.

Read it top to bottom: build task and model, then for each optimiser step
generate this process's share of the step's samples straight from their
addresses, accumulate a masked loss normalised by the scored tokens of the
*whole* step (all micro-batches, all processes), clip, step, and now and then
evaluate and checkpoint. Because the data of step `s` is a function of `s`, a
resumed run needs no replay: it loads the optimiser/RNG state and continues.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import parse_flag_from_env, set_seed
from tqdm.auto import tqdm

from procpre.checkpoint import (
    TRAINING_STATE,
    check_same_run,
    latest_checkpoint,
    publish,
    read_trainer_state,
    staging_dir,
    transfer_sources,
    versions,
    write_model_files,
)
from procpre.config import ConfigError, TrainConfig
from procpre.data import generate_block
from procpre.evaluation import EvalSums, evaluate_block
from procpre.modeling import MaskedLMLoss, build_model, count_parameters
from procpre.tasks.base import Block, Task

METRICS_FILE = "metrics.jsonl"  # one JSON record per logged step, beside the checkpoints


@dataclass
class LoopState:
    """Where the loop is, beyond what accelerate saves (optimiser, scheduler, RNG)."""

    step: int = 0
    tokens_seen: int = 0
    best_loss: float | None = None
    evals_without_improvement: int = 0
    curriculum_length: int | None = None
    last_metrics: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0  # wall time of the loop, summed over resumed calls


@dataclass
class TrainResult:
    save_dir: Path
    checkpoint: Path | None
    state: LoopState
    stopped: str  # "max_steps", "early_stopping", "interrupted"
    history: list[dict[str, Any]]


# -- data ------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _cached_block(task: Task, seed: int, split: str, block: int) -> Block:
    return generate_block(task, seed, split, block)


def samples(task: Task, seed: int, split: str, start: int, stop: int) -> Block:
    """Samples `[start, stop)`, reusing recently generated blocks (a batch is usually a slice of one)."""
    size = task.block_size
    parts = []
    for block in range(start // size, (stop - 1) // size + 1):
        full = _cached_block(task, seed, split, block)
        lo, hi = max(start, block * size) - block * size, min(stop, (block + 1) * size) - block * size
        parts.append(full[lo:hi])
    return parts[0] if len(parts) == 1 else Block.concatenate(parts)


def micro_batch_range(config: TrainConfig, step: int, micro: int, rank: int, world: int) -> tuple[int, int]:
    """Sample range of (step, micro-batch, rank): the global batch is laid out micro-major, then rank."""
    per_step = config.batch_size * config.gradient_accumulation_steps * world
    start = step * per_step + (micro * world + rank) * config.batch_size
    return start, start + config.batch_size


# -- schedule --------------------------------------------------------------------------
def lr_lambda(config: TrainConfig):
    """Linear warm-up, then constant / cosine / linear decay down to `min_lr_ratio`."""
    warmup, total, floor = config.warmup_steps, config.max_steps, config.min_lr_ratio

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if config.lr_schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        shape = 0.5 * (1 + math.cos(math.pi * progress)) if config.lr_schedule == "cosine" else 1 - progress
        return floor + (1 - floor) * shape

    return factor


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases, LayerNorms and embeddings-free 1-D params; frozen params left out."""
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.dim() >= 2 else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # the fused kernel: one pass over all parameters (CPU: about 4x faster than the per-tensor loop;
    # benchmarks/cpu_adamw.py)
    fused = all(p.device.type in ("cpu", "cuda") for p in decay + no_decay)
    return torch.optim.AdamW(
        groups,
        lr=config.lr,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_eps,
        **({"fused": True} if fused else {}),
    )


# -- the loop --------------------------------------------------------------------------
class _StopFlag:
    """SIGINT/SIGTERM ask the loop to checkpoint and stop after the current step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def flush_subnormals() -> None:
    """Trained models push values into the subnormal range, where x86 float maths is many times slower.

    Measured on a learned haystack model: 1.5x per step; flushing them to zero changes no reported result.
    The flag is per thread and threads inherit it when created, so it is set when this module is
    imported, before torch starts its worker threads (it has no effect on GPU kernels).
    """
    torch.set_flush_denormal(True)


flush_subnormals()


def train(
    config: TrainConfig,
    model: torch.nn.Module | None = None,
    accelerator: Accelerator | None = None,
    stage: str = "pretraining",
    extra_meta: dict[str, Any] | None = None,
    max_steps_this_call: int | None = None,
) -> TrainResult:
    """Train `model` (a fresh GPT-2 of `config.model_size` if None) on `config.task`; see the module doc.

    `max_steps_this_call` stops early as if interrupted (tests of resume use it).
    """
    with cpu_threads(config.torch_threads):
        return _train(config, model, accelerator, stage, extra_meta, max_steps_this_call)


@contextlib.contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Run with `count` torch CPU threads (None: leave them), then give the process its own count back."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train(
    config: TrainConfig,
    model: torch.nn.Module | None,
    accelerator: Accelerator | None,
    stage: str,
    extra_meta: dict[str, Any] | None,
    max_steps_this_call: int | None,
) -> TrainResult:
    accelerator = _make_accelerator(config, accelerator)
    set_seed(config.seed)
    save_dir = Path(config.save_dir)
    full_task = config.build_task()
    state, resume_from = _starting_state(config, accelerator, save_dir, extra_meta or {})
    task = _current_task(config, state)
    model, optimizer, scheduler = prepare_training(config, accelerator, model, full_task)
    if resume_from is not None:
        accelerator.load_state(str(resume_from / TRAINING_STATE))
        accelerator.print(f"resumed from {resume_from} at step {state.step}")
    if accelerator.is_main_process:
        save_dir.mkdir(parents=True, exist_ok=True)
        _init_trackers(accelerator, config)
        keep_history_until(save_dir, state.step)  # a resumed run logs its steps past the checkpoint again

    world, rank = accelerator.num_processes, accelerator.process_index
    samples_per_step = config.batch_size * config.gradient_accumulation_steps * world
    meta_base = _run_meta(config, accelerator, model, stage, extra_meta or {})
    history: list[dict[str, Any]] = []
    metrics_file = save_dir / METRICS_FILE
    stopped = "early_stopping" if _stopped_early(config, state) else "max_steps"  # resumed: nothing left to do
    last_saved = state.step if resume_from is not None else -1
    bar = _progress_bar(config, accelerator, state, f"{stage} {task.name}")
    progress = _Progress(time.perf_counter(), state.tokens_seen, state.train_seconds)
    stop_at = None if max_steps_this_call is None else state.step + max_steps_this_call

    with _StopFlag() as stop:
        model.train()
        while state.step < config.max_steps and stopped != "early_stopping":
            loss_sum, scored = _optimizer_step(
                config, model, optimizer, scheduler, accelerator, task, state.step, rank, world
            )
            state.step += 1
            state.tokens_seen += samples_per_step * task.length
            state.train_seconds = progress.train_seconds()
            record, task = _step_record(config, accelerator, model, scheduler, progress, state, task, loss_sum, scored)
            if record:
                if "train_loss" in record:
                    bar.set_postfix(loss=f"{record['train_loss']:.4f}", tok_s=f"{record['tokens_per_s']:,.0f}")
                history.append(record)
                _log(accelerator, metrics_file, record)
            if _stopped_early(config, state):
                stopped = "early_stopping"
            bar.update(1)
            interrupted = _any(accelerator, stop.requested) or (stop_at is not None and state.step >= stop_at)
            due = state.step % config.save_every_steps == 0 or state.step == config.max_steps
            if due or interrupted or stopped == "early_stopping":
                _save(accelerator, model, config, state, save_dir, meta_base)
                last_saved = state.step
            if interrupted and state.step < config.max_steps:
                stopped = "interrupted"
                break
    bar.close()
    if last_saved != state.step:
        _save(accelerator, model, config, state, save_dir, meta_base)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    final = _announce_and_push(config, accelerator, save_dir, state.step, stopped)
    return TrainResult(save_dir, final, state, stopped, history)


def _step_record(
    config: TrainConfig,
    accelerator: Accelerator,
    model: torch.nn.Module,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    progress: _Progress,
    state: LoopState,
    task: Task,
    loss_sum: torch.Tensor,
    scored: float,
) -> tuple[dict[str, Any], Task]:
    """The step's metrics record (empty on a step that neither logs nor evaluates), and the task to go on with.

    Logging is a step's only host-device sync; an evaluation may lengthen the curriculum's task.
    """
    record: dict[str, Any] = {}
    last = state.step == config.max_steps
    if state.step % config.log_every_steps == 0 or last:
        step_loss = _sum(accelerator, float(loss_sum)) / max(scored, 1.0)
        record.update(
            train_loss=step_loss, lr=scheduler.get_last_lr()[0], tokens_per_s=progress.tokens_per_s(state.tokens_seen)
        )
    if state.step % config.eval_every_steps == 0 or last:
        metrics = _evaluate(config, accelerator, model, task)
        record.update({f"val_{k}": v for k, v in metrics.items()})
        task = _after_eval(config, state, metrics)
    if record:
        record.update(step=state.step, tokens_seen=state.tokens_seen)
        if task.params.get("seq_length") is not None and config.curriculum.enabled:
            record["curriculum_length"] = task.params["seq_length"]
    return record, task


def _run_meta(
    config: TrainConfig, accelerator: Accelerator, model: torch.nn.Module, stage: str, extra_meta: dict[str, Any]
) -> dict[str, Any]:
    """What every checkpoint's metadata file says about the run; `_save` adds the step and tokens seen."""
    return {
        "stage": stage,
        "config": config.as_dict(),
        "num_parameters": count_parameters(_hf_model(accelerator, model)),
        "world_size": accelerator.num_processes,
        "torch_threads": torch.get_num_threads(),  # CPU float sums depend on it (see TrainConfig.torch_threads)
        "versions": versions(),
        **extra_meta,
    }


def _progress_bar(config: TrainConfig, accelerator: Accelerator, state: LoopState, label: str) -> tqdm:
    """Steps done of `max_steps` (a resumed run starts part-way), with the ETA; on the first local process only."""
    return tqdm(
        total=config.max_steps,
        initial=state.step,
        disable=not accelerator.is_local_main_process,
        desc=label,
        unit="step",
        mininterval=1.0,
        dynamic_ncols=True,
    )


def _announce_and_push(
    config: TrainConfig, accelerator: Accelerator, save_dir: Path, step: int, stopped: str
) -> Path | None:
    """The run's last checkpoint: say where it is and how to load it, and push it if asked (not when interrupted)."""
    final = latest_checkpoint(save_dir)
    if accelerator.is_main_process and final is not None:
        accelerator.print(
            f"{stopped} at step {step}; checkpoint: {final}\n"
            f"load it with: AutoModelForCausalLM.from_pretrained({str(final)!r})"
        )
        if config.push_to_hub and stopped != "interrupted":
            from procpre.hub import push_run

            push_run(save_dir, config.push_to_hub, private=config.hub_private)
    return final


def _make_accelerator(config: TrainConfig, accelerator: Accelerator | None) -> Accelerator:
    """The caller's accelerator, or one for the config; refuses a launch that would train each process alone."""
    check_precision(config.mixed_precision, accelerator.device.type if accelerator else _default_device())
    accelerator = accelerator or Accelerator(
        mixed_precision=config.mixed_precision,
        log_with=config.report_to or None,
        project_dir=config.save_dir,
    )
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and accelerator.num_processes == 1:
        raise RuntimeError(
            f"launched as {launched} processes but accelerate sees a single one, so each would train alone; "
            "on CPU use `ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes N ...`"
        )
    for tracker in config.report_to:
        if importlib.util.find_spec(tracker) is None:
            accelerator.print(
                f"warning: report_to includes {tracker!r} but it is not installed (pip install "
                f"{tracker}); metrics go to {config.save_dir}/metrics.jsonl only"
            )
    return accelerator


def _starting_state(
    config: TrainConfig, accelerator: Accelerator, save_dir: Path, extra_meta: dict[str, Any]
) -> tuple[LoopState, Path | None]:
    """A fresh state, or the latest checkpoint's when resuming (after checking it is the same run)."""
    state = LoopState()
    resume_from = latest_checkpoint(save_dir) if config.resume else None
    if resume_from is not None:
        meta = check_same_run(resume_from, config, transfer_sources(extra_meta))
        state = LoopState(**read_trainer_state(resume_from))
        _warn_on_other_threads(accelerator, resume_from.name, meta.get("torch_threads"))
    elif config.resume:
        accelerator.print(f"resume: no checkpoint-<step> folder in {save_dir}; starting from step 0")
    if config.curriculum.enabled and state.curriculum_length is None:
        state.curriculum_length = config.curriculum.start_length
    return state, resume_from


def _warn_on_other_threads(accelerator: Accelerator, checkpoint: str, recorded: int | None) -> None:
    """A CPU run resumed under another thread count goes on correctly, but not bit for bit as it would have."""
    now = torch.get_num_threads()
    if accelerator.device.type == "cpu" and recorded is not None and recorded != now:
        accelerator.print(
            f"warning: resuming with {now} torch threads; {checkpoint} was trained with {recorded}, and CPU "
            f"float sums differ with the thread count: set torch_threads: {recorded} to continue exactly"
        )


def prepare_training(
    config: TrainConfig, accelerator: Accelerator, model: torch.nn.Module | None, task: Task
) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """The model wrapped in its masked loss, prepared (and compiled if asked), with its optimiser and schedule.

    `procpre bench train` times the step this returns, so a benchmark measures what training runs.
    """
    if model is None:
        model = build_model(config.model_size, task, config.dropout, n_positions=task.length)
    if model.config.vocab_size < task.vocab_size or model.config.n_positions < task.length:
        raise ValueError(
            f"model (vocabulary {model.config.vocab_size}, {model.config.n_positions} positions) cannot hold task "
            f"{task.name} (vocabulary {task.vocab_size}, length {task.length})"
        )
    model.to(accelerator.device)  # before the optimiser, which picks its fused kernel by device
    optimizer = build_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config))
    static_shapes = accelerator.device.type != "cpu"  # GPUs want fixed shapes; CPUs skip unscored work
    # the scheduler is stepped by hand once per optimiser step: a prepared one steps `num_processes` times per step
    wrapped, optimizer = accelerator.prepare(MaskedLMLoss(model, static_shapes=static_shapes), optimizer)
    accelerator.register_for_checkpointing(scheduler)
    return compile_step(wrapped, config.torch_compile, static_shapes=static_shapes), optimizer, scheduler


def _init_trackers(accelerator: Accelerator, config: TrainConfig) -> None:
    """TensorBoard / trackio / W&B as `report_to` asks (none: metrics.jsonl only)."""
    wandb_kwargs = {"entity": config.wandb_entity, "name": config.run_name}
    accelerator.init_trackers(
        config.wandb_project or "procpre",
        config=_flat(config),
        init_kwargs={"wandb": {k: v for k, v in wandb_kwargs.items() if v}},
    )


@dataclass
class _Progress:
    """Wall time and throughput of this call, on top of what earlier (resumed) calls trained."""

    started: float
    start_tokens: int
    seconds_before: float

    def train_seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.started

    def tokens_per_s(self, tokens_seen: int) -> float:
        return (tokens_seen - self.start_tokens) / max(time.perf_counter() - self.started, 1e-9)


def _stopped_early(config: TrainConfig, state: LoopState) -> bool:
    return config.patience is not None and state.evals_without_improvement >= config.patience


def finished_checkpoint(save_dir: str | os.PathLike[str], config: TrainConfig) -> Path | None:
    """The run's last checkpoint if the run is over (at `max_steps`, or stopped early on patience), else None.

    A run that is not over (interrupted, or `max_steps` raised since) is resumed rather than reused.
    """
    checkpoint = latest_checkpoint(save_dir)
    if checkpoint is None:
        return None
    state = LoopState(**read_trainer_state(checkpoint))
    return checkpoint if state.step >= config.max_steps or _stopped_early(config, state) else None


def _current_task(config: TrainConfig, state: LoopState) -> Task:
    if config.curriculum.enabled and state.curriculum_length is not None:
        return config.build_task(seq_length=state.curriculum_length)
    return config.build_task()


def _optimizer_step(config, model, optimizer, scheduler, accelerator, task, step, rank, world):
    """One optimiser step over all micro-batches.

    Returns (this process's summed loss as a device tensor, the step's scored tokens over all
    processes); the caller turns them into a number only when it logs, so steps do not wait on the device.
    """
    batches = []
    for micro in range(config.gradient_accumulation_steps):
        block = samples(task, config.seed, "train", *micro_batch_range(config, step, micro, rank, world))
        batches.append(block)
    local_scored = sum(int(b.loss_mask[:, :-1].sum()) for b in batches)
    global_scored = _sum(accelerator, float(local_scored))
    scale = world / max(global_scored, 1.0)  # DDP averages gradients over processes: undo that
    loss_sum = torch.zeros((), dtype=torch.float64, device=accelerator.device)
    on_cpu = accelerator.device.type == "cpu"  # GPUs want fixed shapes: no bucketing there
    chunks = [chunk for block in batches for chunk in (length_buckets(block) if on_cpu else [block])]
    for index, chunk in enumerate(chunks):
        ids = to_device(chunk.input_ids, accelerator.device).long()
        mask = to_device(chunk.loss_mask, accelerator.device)
        last = index == len(chunks) - 1
        context = accelerator.no_sync(model) if not last else contextlib.nullcontext()
        with context, accelerator.autocast():
            total = model(ids, mask)
            accelerator.backward(total * scale)
        loss_sum += total.detach()
    if config.grad_clip > 0:
        accelerator.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    if not getattr(optimizer, "step_was_skipped", False):  # fp16 overflow: no step, no schedule advance
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum, global_scored


def check_precision(mixed_precision: str, device: str) -> None:
    """fp16 on CPU is refused: accelerate would silently train in float32 under that label.

    Checked before the `Accelerator` exists: it fixes the process's precision once made.
    """
    if mixed_precision == "fp16" and device == "cpu":
        raise ConfigError("'mixed_precision' fp16 needs a GPU (accelerate ignores it on CPU); on CPU use bf16 or no")


def _default_device() -> str:
    """The device type a new `Accelerator()` will pick (ACCELERATE_USE_CPU forces the CPU)."""
    if parse_flag_from_env("ACCELERATE_USE_CPU"):
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"


def to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """Host -> device without waiting on the GPU.

    A copy from pageable memory first waits for every queued kernel; from pinned memory it is
    queued like a kernel, so the CPU goes on generating the next batch while the GPU computes.
    """
    tensor = torch.from_numpy(array)
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


def compile_step(model: torch.nn.Module, mode: str, static_shapes: bool) -> torch.nn.Module:
    """`torch.compile` the prepared loss module (mode "no": unchanged).

    GPU batches have fixed shapes, so one graph serves every step; "reduce-overhead" replays
    it as CUDA graphs, which is what small, launch-bound models need. Saving and evaluation
    reach the original module through `accelerator.unwrap_model`.
    """
    if mode == "no":
        return model
    return torch.compile(model, mode=None if mode == "default" else mode, dynamic=False if static_shapes else None)


def length_buckets(block: Block, max_buckets: int = 4, min_saving: float = 0.15) -> list[Block]:
    """Split a batch by how far its samples need computing, and trim trailing positions nothing reads.

    A causal model's scored logits do not depend on later positions, so cutting each
    sample after its last scored target leaves the loss and gradient unchanged. Only
    worth it when samples end at very different places (the haystack: 2n+3 of 63).
    """
    scored = block.loss_mask
    if not len(block):
        return []
    needed = np.where(scored.any(axis=1), scored.shape[1] - np.argmax(scored[:, ::-1], axis=1) + 1, 1)
    needed = np.minimum(needed, scored.shape[1])
    full = len(block) * int(needed.max())
    order = np.argsort(needed, kind="stable")
    groups = np.array_split(order, min(max_buckets, len(block)))
    bucketed = sum(len(g) * int(needed[g].max()) for g in groups if len(g))
    if bucketed > (1 - min_saving) * full:
        return [_trim(block, int(needed.max()))]
    return [_trim(block[np.sort(g)], int(needed[g].max())) for g in groups if len(g)]


def _trim(block: Block, length: int) -> Block:
    if length >= block.input_ids.shape[1]:
        return block
    return Block(block.input_ids[:, :length], block.loss_mask[:, :length], block.task)


def _hf_model(accelerator: Accelerator, wrapped: torch.nn.Module) -> torch.nn.Module:
    """The transformers model inside the prepared loss wrapper (what is saved and evaluated)."""
    return accelerator.unwrap_model(wrapped, keep_torch_compile=False).model


def _sum(accelerator: Accelerator, value: float) -> float:
    if accelerator.num_processes == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=accelerator.device)
    return float(accelerator.reduce(t, reduction="sum").item())


def _any(accelerator: Accelerator, flag: bool) -> bool:
    return _sum(accelerator, float(flag)) > 0


def _evaluate(config: TrainConfig, accelerator: Accelerator, model: torch.nn.Module, task: Task) -> dict[str, float]:
    """Validation split samples `[0, eval_samples)`, split across processes, sums reduced."""
    world, rank = accelerator.num_processes, accelerator.process_index
    per_rank = -(-config.eval_samples // world)
    lo, hi = rank * per_rank, min(config.eval_samples, (rank + 1) * per_rank)
    sums = EvalSums()
    if hi > lo:
        block = samples(task, config.seed, "validation", lo, hi)
        with accelerator.autocast():
            sums = evaluate_block(
                _hf_model(accelerator, model), task, block, config.eval_batch_size, accelerator.device
            )
    if world > 1:
        names = sorted(task.metric_masks(samples(task, config.seed, "validation", 0, 1).input_ids))
        reduced = accelerator.reduce(sums.as_tensor(accelerator.device, names), reduction="sum")
        sums = EvalSums.from_tensor(reduced, names)
    return sums.metrics(task)


def _after_eval(config: TrainConfig, state: LoopState, metrics: dict[str, float]) -> Task:
    """Early-stopping bookkeeping and the length curriculum; returns the task to train on next."""
    state.last_metrics = metrics
    improved = state.best_loss is None or metrics["loss"] < state.best_loss - 1e-6
    if improved:
        state.best_loss = metrics["loss"]
        state.evals_without_improvement = 0
    else:
        state.evals_without_improvement += 1
    cur = config.curriculum
    if cur.enabled and state.curriculum_length is not None:
        full = int(config.task_params.get("seq_length", config.build_task().params["seq_length"]))
        if metrics.get(cur.metric, 0.0) >= cur.threshold and state.curriculum_length < full:
            state.curriculum_length = min(full, state.curriculum_length + cur.step)
            state.best_loss, state.evals_without_improvement = None, 0
    return _current_task(config, state)


def read_history(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of `metrics.jsonl` in step order (empty if the run has logged nothing).

    A step logged again means the run was resumed from an earlier checkpoint (files written before
    `keep_history_until` existed): the replayed steps replace what the stopped run had logged.
    """
    path = Path(run_dir) / METRICS_FILE
    history: list[dict[str, Any]] = []
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.strip():
            record = json.loads(line)
            while history and history[-1]["step"] >= record["step"]:
                history.pop()
            history.append(record)
    return history


def keep_history_until(run_dir: Path, step: int) -> None:
    """Drop the records past `step`: what a stopped run logged after its last checkpoint is trained again."""
    history = read_history(run_dir)
    kept = [record for record in history if record["step"] <= step]
    if len(kept) < len(history):
        staging = Path(run_dir) / f".{METRICS_FILE}.tmp"
        staging.write_text("".join(json.dumps(record) + "\n" for record in kept))
        staging.replace(Path(run_dir) / METRICS_FILE)


def _log(accelerator: Accelerator, path: Path, record: dict[str, Any]) -> None:
    if not accelerator.is_main_process:
        return
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")
    accelerator.log({k: v for k, v in record.items() if k != "step"}, step=record["step"])


def _save(accelerator, model, config: TrainConfig, state: LoopState, save_dir: Path, meta_base: dict) -> None:
    """Collective: every process writes its training state; the main one writes the model and renames."""
    staging = staging_dir(save_dir, state.step)
    if accelerator.is_main_process:
        staging.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(staging / TRAINING_STATE))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        task = _current_task(config, state)
        meta = {
            **meta_base,
            "task": task.config_dict(),
            "step": state.step,
            "tokens_seen": state.tokens_seen,
            "train_seconds": round(state.train_seconds, 3),
            "metrics": state.last_metrics,
        }
        write_model_files(staging, _hf_model(accelerator, model), meta, asdict(state))
        publish(staging, save_dir, state.step, config.save_total_limit)
    accelerator.wait_for_everyone()


def _flat(config: TrainConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.as_dict().items():
        if isinstance(value, dict):
            out.update({f"{key}_{k}": v for k, v in value.items()})
        elif isinstance(value, list):
            out[key] = ",".join(map(str, value))
        else:
            out[key] = value
    return {k: v for k, v in out.items() if isinstance(v, (int, float, str, bool))}
