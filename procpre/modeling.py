"""`"L_H_D"` size spec + a task -> a GPT-2 model whose vocabulary and positions fit the task."""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from procpre.config import parse_model_size
from procpre.tasks.base import Task


def gpt2_config(size: str, vocab_size: int, n_positions: int, dropout: float = 0.0) -> GPT2Config:
    layers, heads, width = parse_model_size(size)
    return GPT2Config(
        n_layer=layers,
        n_head=heads,
        n_embd=width,
        vocab_size=vocab_size,
        n_positions=n_positions,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        tie_word_embeddings=True,
        # the same tanh approximation as GPT-2's gelu_new, as one fused kernel (1.2x faster on small models)
        activation_function="gelu_pytorch_tanh",
    )


def build_model(size: str, task: Task, dropout: float = 0.0, n_positions: int | None = None) -> GPT2LMHeadModel:
    """A fresh GPT-2 for `task` (SDPA attention where available)."""
    config = gpt2_config(size, task.vocab_size, n_positions or task.length, dropout)
    config._attn_implementation = "sdpa"
    return GPT2LMHeadModel(config)


class MaskedLMLoss(torch.nn.Module):
    """Wraps a causal LM so its forward returns the summed loss over scored positions.

    Being one module it can be wrapped by DDP/FSDP (and compiled) as a whole. With
    `static_shapes=False` (CPU) the last block and the LM head run only on scored
    positions (a haystack sample scores 1 of 62); with `static_shapes=True` (GPU)
    every shape is fixed, so nothing waits on the device and `torch.compile` builds
    one graph.
    """

    def __init__(self, model: GPT2LMHeadModel, static_shapes: bool = False) -> None:
        super().__init__()
        self.model = model
        self.static_shapes = static_shapes

    def forward(self, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
        scored = loss_mask[:, :-1].bool()
        targets = input_ids[:, 1:].long()
        if self.static_shapes:
            # the last token is only a target: length - 1 positions (128 of 129: whole attention tiles)
            hidden = self.model.transformer(input_ids=input_ids[:, :-1]).last_hidden_state
            logits = self.model.lm_head(hidden)
            targets = targets.masked_fill(~scored, -100)
            return torch.nn.functional.cross_entropy(
                logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100, reduction="sum"
            )
        logits = self.model.lm_head(scored_hidden_states(self.model, input_ids[:, :-1], scored))
        return torch.nn.functional.cross_entropy(logits.float(), targets[scored], reduction="sum")


def scored_hidden_states(model: GPT2LMHeadModel, input_ids: torch.Tensor, scored: torch.Tensor) -> torch.Tensor:
    """Final hidden states at the scored positions only, in row-major order (as `hidden[scored]`).

    Nothing reads the last block's output at unscored positions, so when a sample scores
    few of its positions (the haystack: 1 of 62) the last block runs only there: its
    queries, residual and MLP shrink to the scored rows while keys and values still cover
    every position. Exactly the same loss and gradients as the full forward, and 1.39x
    faster per haystack step on `2_4_16` (benchmarks/scored_forward.py). Other GPT-2
    variants take the full forward.
    """
    config = model.config
    plain = config.scale_attn_weights and not (
        config.scale_attn_by_inverse_layer_idx or config.reorder_and_upcast_attn or config.add_cross_attention
    )
    if not plain:
        return model.transformer(input_ids=input_ids).last_hidden_state[scored]
    body = model.transformer
    length = input_ids.shape[1]
    hidden = body.drop(body.wte(input_ids) + body.wpe(torch.arange(length, device=input_ids.device)))
    for block in body.h[:-1]:
        hidden = _gpt2_block(block, hidden)
    counts = scored.sum(dim=1)
    most = int(counts.max()) if len(counts) else 0
    if 2 * most > length:  # most positions scored: the causal kernel on every row is faster
        return body.ln_f(_gpt2_block(body.h[-1], hidden)[scored])
    # each sample's scored positions first, in order; the padding rows are dropped after the block
    positions = torch.argsort((~scored).to(torch.int8), dim=1, stable=True)[:, :most]
    kept = torch.arange(most, device=counts.device) < counts[:, None]
    return body.ln_f(_gpt2_block(body.h[-1], hidden, positions)[kept])


def _gpt2_block(block: torch.nn.Module, hidden: torch.Tensor, queries: torch.Tensor | None = None) -> torch.Tensor:
    """GPT-2's block (pre-LayerNorm attention + MLP), computed only at `queries` positions if given."""
    attn = block.attn
    query, key, value = attn.c_attn(block.ln_1(hidden)).split(attn.split_size, dim=2)
    dropout = attn.attn_dropout.p if block.training else 0.0
    mask = None
    residual = hidden
    if queries is not None:
        rows = queries[..., None].expand(-1, -1, hidden.size(-1))
        query, residual = query.gather(1, rows), hidden.gather(1, rows)
        mask = (torch.arange(hidden.size(1), device=hidden.device) <= queries[..., None])[:, None]
    heads = [_split_heads(states, attn.num_heads) for states in (query, key, value)]
    mixed = _attention(*heads, mask=mask, dropout=dropout, scale=attn.head_dim**-0.5)
    hidden = residual + attn.resid_dropout(attn.c_proj(mixed.transpose(1, 2).reshape(residual.shape)))
    return hidden + block.mlp(block.ln_2(hidden))


def _attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None, dropout: float, scale: float
) -> torch.Tensor:
    """Scaled dot-product attention (causal unless `mask` is given).

    On CPU, bf16 attention runs in float32: PyTorch's bf16 CPU attention kernels are about 2x slower
    than float32 ones forward and backward (measured on AMX Xeons), while bf16 still speeds up
    the products around them. Elsewhere it runs in the inputs' dtype.
    """

    def attend(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, dropout_p=dropout, is_causal=mask is None, scale=scale
        )

    if query.device.type != "cpu" or query.dtype not in (torch.bfloat16, torch.float16):
        return attend(query, key, value)
    with torch.autocast("cpu", enabled=False):
        return attend(query.float(), key.float(), value.float()).to(query.dtype)


def _split_heads(states: torch.Tensor, heads: int) -> torch.Tensor:
    return states.view(*states.shape[:2], heads, -1).transpose(1, 2)


def masked_token_losses(logits: torch.Tensor, input_ids: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Sum of next-token cross-entropies over scored positions (float32, whatever the compute dtype)."""
    shift_logits = logits[:, :-1].float()
    targets = input_ids[:, 1:].long()
    mask = loss_mask[:, :-1].bool()
    losses = torch.nn.functional.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)), targets.reshape(-1), reduction="none"
    )
    return (losses * mask.reshape(-1)).sum()


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
