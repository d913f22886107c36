"""Mixtures: weighted, tagged, deterministic, padded per component, and rebuilt from their config."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procpre.tasks import TaskError, get_task, task_from_config
from procpre.tasks.mixture import Mixture

FAST = settings(max_examples=25, deadline=None)
POOL = {
    "sort": {"seq_length": 4, "vocab_size": 8},
    "set": {"seq_length": 5, "vocab_size": 8, "score_end": True},
    "union": {"seq_length": 6, "vocab_size": 8},
    "stack": {"seq_length": 5, "vocab_size": 8},
    "dyck": {"k": 3, "seq_length": 10},
    "dyck_shuffle": {"k": 2, "seq_length": 7},
    "eca": {"width": 4, "steps": 2},
}


@st.composite
def mixtures(draw):
    names = draw(st.lists(st.sampled_from(sorted(POOL)), min_size=1, max_size=4, unique=True))
    weights = draw(st.lists(st.integers(1, 5), min_size=len(names), max_size=len(names)))
    mix = Mixture(tasks=[get_task(name, **POOL[name]) for name in names], weights=weights)
    return mix, draw(st.integers(0, 2**32)), draw(st.integers(0, 40))


@FAST
@given(mixtures())
def test_samples_are_tagged_padded_and_valid(case):
    mix, seed, n = case
    block = mix.sample(np.random.default_rng(seed), n)
    assert block.input_ids.shape == (n, mix.length) and block.loss_mask.shape == (n, mix.length)
    assert mix.verify(block.input_ids).all() and mix.verify(block.input_ids, block.task).all()
    by_name = {t.name: t for t in mix.tasks}
    for ids, mask, tag in zip(block.input_ids, block.loss_mask, block.task):
        task = by_name[str(tag)]
        assert task.verify(ids[None, : task.length])[0]
        assert (ids[task.length :] == task.pad_id).all() and not mask[task.length :].any()
        assert ids.max() < mix.vocab_size


@FAST
@given(mixtures())
def test_components_draw_from_child_generators(case):
    """The contract that makes a mixture deterministic: choose with rng, then one spawned child per component."""
    mix, seed, n = case
    block = mix.sample(np.random.default_rng(seed), n)
    rng = np.random.default_rng(seed)
    which = mix.choose(rng, n)
    for c, (task, child) in enumerate(zip(mix.tasks, rng.spawn(len(mix.tasks)))):
        rows = np.flatnonzero(which == c)
        own = task.sample(child, rows.size)
        assert (block.task[rows] == task.name).all()
        assert (block.input_ids[rows, : task.length] == own.input_ids).all()
        assert (block.loss_mask[rows, : task.length] == own.loss_mask).all()


@FAST
@given(mixtures(), st.data())
def test_verify_rejects_bad_padding_and_wrong_tags(case, data):
    mix, seed, n = case
    block = mix.sample(np.random.default_rng(seed), max(n, 1))
    lengths = {t.name: t.length for t in mix.tasks}
    short = [i for i, tag in enumerate(block.task) if lengths[tag] < mix.length]
    if short:
        row = data.draw(st.sampled_from(short))
        bad = block.input_ids.copy()
        bad[row, -1] = (bad[row, -1] + 1) % mix.vocab_size  # no longer that component's PAD
        ok = mix.verify(bad, block.task)
        assert not ok[row] and ok.sum() == len(ok) - 1
    missing = np.full(len(block), "identity")  # a tag naming no component
    assert not mix.verify(block.input_ids, missing).any()


def test_string_form_shares_params_and_round_trips():
    mix = get_task("mixture", components="set,sort,union", weights="1,1,2", seq_length=8, vocab_size=10)
    assert [t.name for t in mix.tasks] == ["set", "sort", "union"]
    assert all(t.seq_length == 8 and t.params["vocab_size"] == 10 for t in mix.tasks)
    assert mix.probabilities.tolist() == [0.25, 0.25, 0.5]
    parts = [get_task(name, seq_length=8, vocab_size=10) for name in ("set", "sort", "union")]
    same = Mixture(tasks=parts, weights=[1, 1, 2])
    assert mix == same and hash(mix) == hash(same)
    config = json.loads(json.dumps(mix.config_dict()))
    assert task_from_config(config) == mix
    assert (mix.vocab_size, mix.length, mix.pad_id, mix.kind) == (12, 18, 11, "sequence")


def test_own_params_win_and_shared_params_reach_only_takers():
    mix = get_task("mixture", components="sort(seq_length=3), dyck(k=2, seq_length=8), eca", seq_length=6, k=5)
    sort, dyck, eca = mix.tasks
    assert (sort.seq_length, dyck.seq_length, dyck.k, eca.width) == (3, 8, 2, 32)
    assert mix.params["weights"] == "1,1,1" and mix.kind == "mixed"
    assert mix.length == eca.length and mix.vocab_size == sort.vocab_size == 102
    assert task_from_config(mix.config_dict()) == mix


def test_zero_weight_is_never_drawn_and_weights_set_proportions():
    mix = get_task("mixture", components="sort,set,reverse", weights="3,0,1", seq_length=4)
    tags = mix.sample(np.random.default_rng(0), 8000).task
    assert "set" not in tags
    assert abs((tags == "sort").mean() - 0.75) < 0.02


def test_components_do_not_share_inputs():
    """Unlike the published release, set and sort samples of one block have different prompts."""
    mix = get_task("mixture", components="set,sort", seq_length=16)
    block = mix.sample(np.random.default_rng(0), 64)
    prompts = {tag: block.input_ids[block.task == tag, :16] for tag in ("set", "sort")}
    n = min(len(prompts["set"]), len(prompts["sort"]))
    assert n > 0 and not (prompts["set"][:n] == prompts["sort"][:n]).all(axis=1).any()


def test_deterministic_and_empty_blocks():
    mix = get_task("mixture", components="stack,eca", weights="1,2", seq_length=6)
    a, b = (mix.sample(np.random.default_rng(5), 30) for _ in range(2))
    assert (a.input_ids == b.input_ids).all() and (a.task == b.task).all()
    empty = mix.sample(np.random.default_rng(5), 0)
    assert empty.input_ids.shape == (0, mix.length) and empty.task.shape == (0,)


def test_decode_uses_the_row_component():
    mix = get_task("mixture", components="eca(width=3,steps=1),sort(seq_length=3,vocab_size=5)")
    block = mix.sample(np.random.default_rng(0), 20)
    for ids, mask, tag in zip(block.input_ids, block.loss_mask, block.task):
        text = mix.decode(ids, mask, str(tag))
        assert ("|" in text) == (tag == "eca") and ("SEP" in text) == (tag == "sort")
        assert mix.decode(ids, mask) == text  # found by verification when untagged


def test_cli_sees_component_params():
    names = [p.name for p in Mixture.PARAMS]
    assert names[:2] == ["components", "weights"]
    assert {"seq_length", "vocab_size", "k", "width", "score_end"} <= set(names)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "components"),
        ({"components": "sort,nosuchtask"}, "nosuchtask"),
        ({"components": "sort,mixture"}, "mixture"),
        ({"components": "sort(seq_length=3"}, "components"),
        ({"components": "sort(seq_length)"}, "components"),
        ({"components": "sort", "seq_length": 0}, "seq_length"),
        ({"components": "sort,set", "weights": "1"}, "weights"),
        ({"components": "sort,set", "weights": "1,-1"}, "weights"),
        ({"components": "sort,set", "weights": "0,0"}, "weights"),
        ({"components": "sort,set", "weights": "1,x"}, "weights"),
        ({"components": "sort,set", "width": 5}, "width"),
    ],
)
def test_bad_params_name_the_field(params, field):
    with pytest.raises(TaskError, match=field):
        get_task("mixture", **params)


def test_bad_tasks_argument():
    with pytest.raises(TaskError, match="tasks"):
        Mixture(tasks=[])
    with pytest.raises(TaskError, match="tasks"):
        Mixture(tasks=["sort"])
    with pytest.raises(TaskError, match="components"):
        Mixture(tasks=[get_task("sort")], components="sort")


def test_pickles_for_dataloader_workers():
    mix = get_task("mixture", components="sort,dyck,stack", seq_length=8, k=3)
    clone = pickle.loads(pickle.dumps(mix))
    assert clone == mix
    a, b = (m.sample(np.random.default_rng(2), 12) for m in (mix, clone))
    assert (a.input_ids == b.input_ids).all() and (a.task == b.task).all()
