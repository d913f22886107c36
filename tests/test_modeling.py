"""The training loss's fast forwards (CPU: last block only at scored positions; GPU: fixed shapes) are the full
GPT-2 forward, exactly."""

from __future__ import annotations

import pytest
import torch

from procpre.modeling import MaskedLMLoss, _attention, build_model, masked_token_losses
from procpre.tasks import get_task
from procpre.train import samples


def _loss_and_grads(loss_fn, model, ids, mask) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = loss_fn(ids, mask)
    loss.backward()
    return float(loss.detach()), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize(
    ("task_name", "params", "config_change"),
    [
        ("condattendstream_30", {}, {}),  # one scored position per sample: the last block runs on 1 row
        ("set", {"seq_length": 16, "vocab_size": 32}, {}),  # scored counts differ between samples
        ("sort", {"seq_length": 8, "vocab_size": 16}, {}),  # half the positions scored
        ("dyck", {"seq_length": 32, "k": 4}, {}),  # every position scored: the causal kernel on every row
        ("condattendstream_30", {}, {"scale_attn_by_inverse_layer_idx": True}),  # unusual GPT-2: HF forward
    ],
)
def test_scored_forward_matches_the_full_forward(task_name: str, params: dict, config_change: dict) -> None:
    task = get_task(task_name, **params)
    torch.manual_seed(0)
    model = build_model("3_2_16", task)
    for key, value in config_change.items():
        setattr(model.config, key, value)
        for block in model.transformer.h:
            block.attn.__init__(model.config, layer_idx=block.attn.layer_idx)  # rebuild with the new scaling
    block = samples(task, 0, "train", 0, 24)
    ids = torch.from_numpy(block.input_ids).long()
    mask = torch.from_numpy(block.loss_mask)

    def full(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return masked_token_losses(model(input_ids=ids).logits, ids, mask)

    expected, expected_grads = _loss_and_grads(full, model, ids, mask)
    for static_shapes in (False, True):  # CPU: scored rows only; GPU: fixed shapes, the last token dropped
        got, grads = _loss_and_grads(MaskedLMLoss(model, static_shapes=static_shapes), model, ids, mask)
        assert got == pytest.approx(expected, rel=1e-5)
        for want, have in zip(expected_grads, grads, strict=True):
            torch.testing.assert_close(have, want, rtol=1e-4, atol=1e-5)


def test_cpu_bf16_attention_runs_in_float32() -> None:
    """PyTorch's bf16 CPU attention is about 2x slower than float32: under bf16 autocast on CPU the
    attention runs in float32 and returns bf16, so the products around it keep their bf16 speed."""
    torch.manual_seed(0)
    query, key, value = (torch.randn(2, 4, 9, 8, dtype=torch.bfloat16) for _ in range(3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = _attention(query, key, value, mask=None, dropout=0.0, scale=0.125)
    expected = torch.nn.functional.scaled_dot_product_attention(
        query.float(), key.float(), value.float(), is_causal=True, scale=0.125
    )
    assert mixed.dtype == torch.bfloat16
    assert torch.equal(mixed, expected.to(torch.bfloat16))


def test_bf16_training_loss_on_cpu_matches_float32() -> None:
    task = get_task("set", seq_length=16, vocab_size=32)
    torch.manual_seed(0)
    model = build_model("2_4_64", task)
    block = samples(task, 0, "train", 0, 16)
    ids, mask = torch.from_numpy(block.input_ids).long(), torch.from_numpy(block.loss_mask)
    expected, _ = _loss_and_grads(MaskedLMLoss(model), model, ids, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, grads = _loss_and_grads(MaskedLMLoss(model), model, ids, mask)
    assert got == pytest.approx(expected, rel=2e-2)
    assert all(grad.dtype == torch.float32 and torch.isfinite(grad).all() for grad in grads)
