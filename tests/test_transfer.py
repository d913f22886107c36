"""Component transfer: what changed, what did not, frozen parameters, weight mixing, release .pth, bad input."""

from __future__ import annotations

import pytest
import torch

from procpre.modeling import build_model
from procpre.tasks import get_task
from procpre.transfer import (
    COMPONENTS,
    TransferError,
    build_plan,
    component_of,
    load_source,
    parse_components,
    transfer,
)

SOURCE_TASK = get_task("sort", seq_length=6, vocab_size=10)  # vocab 12, 13 positions
TARGET_TASK = get_task("set", seq_length=4, vocab_size=20)  # vocab 22, 9 positions


def _checkpoint(path, seed: int, task=SOURCE_TASK, size: str = "2_4_16"):
    torch.manual_seed(seed)
    model = build_model(size, task)
    model.save_pretrained(path)
    return model


def _target(seed: int = 100, task=TARGET_TASK, size: str = "2_4_16"):
    torch.manual_seed(seed)
    return build_model(size, task)


def _params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


@pytest.mark.parametrize(
    "components", [["attn"], ["ffn"], ["ln"], ["pos"], ["attn", "ffn", "ln"], ["attn", "ln", "pos"]]
)
def test_each_component_copies_exactly_its_tensors(tmp_path, components):
    source_model = _checkpoint(tmp_path / "src", 0)
    target = _target()
    before = _params(target)
    report = transfer(target, {c: load_source(tmp_path / "src") for c in components})
    source = dict(source_model.named_parameters())
    for name, param in target.named_parameters():
        if component_of(name) in components:
            assert torch.equal(param, source[name][: param.shape[0]]), name  # wpe: the target's first positions
        else:
            assert torch.equal(param, before[name]), name
    assert set(report.copied) == set(components)


@pytest.mark.parametrize("strategy", ["average", "retain", "partial_matching"])
def test_embedding_strategies(tmp_path, strategy):
    source_model = _checkpoint(tmp_path / "src", 0)
    src_wte = source_model.transformer.wte.weight.detach()
    same_vocab = strategy == "retain"
    target = _target(task=SOURCE_TASK if same_vocab else TARGET_TASK)
    transfer(target, {"embed": load_source(tmp_path / "src")}, embedding_init=strategy)
    wte = target.transformer.wte.weight.detach()
    mean = src_wte.mean(dim=0)
    if strategy == "average":
        assert torch.allclose(wte, mean.expand_as(wte))
    elif strategy == "retain":
        assert torch.equal(wte, src_wte)
    else:
        overlap = src_wte.shape[0]
        assert torch.equal(wte[:overlap], src_wte)
        assert torch.allclose(wte[overlap:], mean.expand(wte.shape[0] - overlap, -1))
    assert torch.equal(target.lm_head.weight, target.transformer.wte.weight)  # tied head follows
    # positions: the source has 13 >= the target's 9 (or 13): copied
    n = target.transformer.wpe.weight.shape[0]
    assert torch.equal(target.transformer.wpe.weight, source_model.transformer.wpe.weight[:n])


def test_pos_copies_positions_and_leaves_token_embeddings_fresh(tmp_path):
    source_model = _checkpoint(tmp_path / "src", 0)
    target = _target()
    fresh_wte = target.transformer.wte.weight.detach().clone()
    report = transfer(target, {"attn": load_source(tmp_path / "src"), "pos": load_source(tmp_path / "src")})
    n = target.transformer.wpe.weight.shape[0]
    assert torch.equal(target.transformer.wpe.weight, source_model.transformer.wpe.weight[:n])
    assert torch.equal(target.transformer.wte.weight, fresh_wte)
    assert report.copied["pos"] == target.transformer.wpe.weight.numel() and "embed" not in report.copied
    assert report.summary().endswith("embeddings: fresh")


def test_retain_refuses_different_vocabularies(tmp_path):
    _checkpoint(tmp_path / "src", 0)
    with pytest.raises(TransferError, match="equal vocabularies"):
        transfer(_target(), {"embed": load_source(tmp_path / "src")}, embedding_init="retain")


def test_short_position_table_is_not_copied(tmp_path):
    _checkpoint(tmp_path / "src", 0, task=get_task("sort", seq_length=2, vocab_size=10))  # 5 positions
    target = _target()
    before = target.transformer.wpe.weight.detach().clone()
    report = transfer(target, {"embed": load_source(tmp_path / "src")})
    assert torch.equal(target.transformer.wpe.weight, before)
    assert any("wpe kept fresh" in note for note in report.notes)


def test_frozen_components_get_no_gradient(tmp_path):
    _checkpoint(tmp_path / "src", 0)
    target = _target()
    report = transfer(target, {"attn": load_source(tmp_path / "src")}, freeze=["attn", "ln"])
    ids = torch.randint(0, 20, (4, TARGET_TASK.length))
    target(input_ids=ids, labels=ids).loss.backward()
    for name, param in target.named_parameters():
        if component_of(name) in ("attn", "ln"):
            assert not param.requires_grad and param.grad is None, name
        else:
            assert param.requires_grad and param.grad is not None, name
    assert set(report.frozen) == {"attn", "ln"}


def test_weight_mixing_takes_each_component_from_its_source(tmp_path):
    a = _checkpoint(tmp_path / "a", 1)
    b = _checkpoint(tmp_path / "b", 2)
    target = _target()
    plan = build_plan(None, [], {"attn": str(tmp_path / "a"), "ffn": str(tmp_path / "b")})
    report = transfer(target, plan)
    assert report.plan == {"attn": str(tmp_path / "a"), "ffn": str(tmp_path / "b")}
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    for name, param in target.named_parameters():
        if component_of(name) == "attn":
            assert torch.equal(param, pa[name])
        elif component_of(name) == "ffn":
            assert torch.equal(param, pb[name])
    fresh = target.transformer.wte.weight
    assert not torch.equal(fresh, pa["transformer.wte.weight"]) and not torch.equal(fresh, pb["transformer.wte.weight"])
    assert report.summary().endswith("embeddings: fresh")  # no embed in the plan: the strategy was not applied


def test_release_pth_loads(tmp_path):
    model = _checkpoint(tmp_path / "src", 3)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}  # a DDP-saved release checkpoint
    torch.save({"model_state_dict": state, "step": 2500}, tmp_path / "release.pth")
    source = load_source(tmp_path / "release.pth")
    assert (source.layers, source.width, source.vocab, source.positions) == (2, 16, 12, 13)
    target = _target()
    transfer(target, {"ffn": source})
    assert torch.equal(target.transformer.h[1].mlp.c_fc.weight, model.transformer.h[1].mlp.c_fc.weight)


def test_everything_expands_and_unknown_components_fail():
    assert parse_components("everything") == list(COMPONENTS)
    assert parse_components("attn, ffn") == ["attn", "ffn"]
    assert parse_components("embed") == ["embed", "pos"]  # SPEC's embed: token rows and positions
    assert parse_components("pos,embed") == ["pos", "embed"]
    with pytest.raises(TransferError, match="unknown component 'mlp'"):
        parse_components("attn,mlp")


def test_mismatched_architecture_names_both_shapes(tmp_path):
    _checkpoint(tmp_path / "src", 0)
    target = _target(size="3_4_16")
    with pytest.raises(TransferError, match="2_4_16.*3_4_16"):
        transfer(target, {"attn": load_source(tmp_path / "src")})


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(TransferError, match="does not exist"):
        load_source(tmp_path / "nope")
    with pytest.raises(TransferError, match="does not exist"):
        load_source(tmp_path / "nope.pth")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TransferError, match="no config.json"):
        load_source(tmp_path / "empty")


def test_missing_folder_that_looks_like_a_repo_id_says_both(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no folder runs/nope here
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # fail at once, not after retries
    with pytest.raises(TransferError, match=r"'runs/nope' \(no such folder here, so it was tried as a Hub repo id\)"):
        load_source("runs/nope")
