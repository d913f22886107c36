"""The throughput benchmarks measure the real step and count FLOPs the way their docstrings say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from procpre.bench import alternate_loss_arms, bench_train, train_flops_per_token
from procpre.modeling import MaskedLMLoss, build_model
from procpre.tasks import get_task


def _step_floor():
    path = Path(__file__).parent.parent / "benchmarks" / "step_floor.py"
    spec = importlib.util.spec_from_file_location("step_floor", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_train_reports_the_step_it_timed() -> None:
    task = get_task("set", seq_length=8, vocab_size=16)
    result = bench_train("2_4_16", task, batch_size=8, steps=3, warmup=1)
    assert result["ms_per_step"] > 0
    assert result["tokens_per_s"] == pytest.approx(8 * task.length / (result["ms_per_step"] / 1000))
    assert result["num_parameters"] == sum(p.numel() for p in build_model("2_4_16", task).parameters())
    assert "mfu" not in result  # no peak to compare with on a CPU


def test_train_flops_count_every_weight_but_positions_and_the_attention_scores() -> None:
    task = get_task("set", seq_length=8, vocab_size=16)
    model = build_model("2_4_16", task)
    weights = sum(p.numel() for name, p in model.named_parameters() if "wpe" not in name)
    assert train_flops_per_token(model, 16) == 6 * weights + 12 * 2 * 16 * 16


def test_the_floor_times_every_product_of_a_block() -> None:
    """Forward, input gradient and weight gradient of a block's linear layers: 6 x 12 D^2 FLOPs per token."""
    tokens, width = 24, 32
    products = _step_floor().linear_products(tokens, width)
    assert len(products) == 12
    assert sum(2 * m * k * n for _, m, k, n in products) == 6 * 12 * width * width * tokens


def test_side_by_side_arms_train_one_shared_model() -> None:
    task = get_task("set", seq_length=8, vocab_size=16)
    wrapped = []

    def arm(model):
        wrapped.append(model)
        return MaskedLMLoss(model)

    ms = alternate_loss_arms(task, "2_4_16", 8, {"a": arm, "b": arm}, steps=2, rounds=2)
    assert set(ms) == {"a", "b"} and all(value > 0 for value in ms.values())
    assert wrapped[0] is wrapped[1]  # both arms step the same weights, so neither times a fresher model
