"""The stack task: samples replay correctly, follow the published policy, and the verifier catches corruption."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procpre.tasks import TaskError, get_task, task_from_config

FAST = settings(max_examples=25, deadline=None)


@st.composite
def stacks(draw):
    """A small stack task, a seed and a sample count."""
    task = get_task(
        "stack",
        seq_length=draw(st.integers(3, 24)),
        vocab_size=draw(st.integers(3, 20)),
        score_end=draw(st.booleans()),
    )
    return task, draw(st.integers(0, 2**32)), draw(st.integers(1, 24))


def replay(ops: list[int]) -> tuple[list[int], list[tuple[int, int, bool]]]:
    """Reference replay: the final stack (bottom first) and (step, height before, pushed) per op."""
    stack: list[int] = []
    trace = []
    for t, op in enumerate(ops):
        trace.append((t, len(stack), op != 0))
        if op == 0:
            assert stack, "pop on an empty stack"
            stack.pop()
        else:
            assert op not in stack, "push of a token already on the stack"
            stack.append(op)
    return stack, trace


@FAST
@given(stacks())
def test_samples_follow_layout_and_policy(case):
    task, seed, n = case
    block = task.sample(np.random.default_rng(seed), n)
    L, V = task.seq_length, task.params["vocab_size"]
    assert block.input_ids.shape == (n, 2 * L) and task.verify(block.input_ids).all()
    assert (block.task == "stack").all()
    for row in block.input_ids.tolist():
        ops = row[:L]
        assert all(0 <= op < V for op in ops)
        final, trace = replay(ops)
        assert 1 <= len(final) <= L - 1
        assert row[L] == V
        assert row[L + 1 : L + 1 + len(final)] == final[::-1]
        assert all(tok == V + 1 for tok in row[L + 1 + len(final) :])
        for t, height, pushed in trace:
            if height <= 1:
                assert pushed, "a stack of at most one token must push"
            elif t == L - 1:
                assert not pushed, "the last step pops when more than one token is held"
            if height == V - 1:
                assert not pushed, "no free token: pop"


@FAST
@given(stacks())
def test_loss_mask_scores_final_stack(case):
    task, seed, n = case
    block = task.sample(np.random.default_rng(seed), n)
    L, pad = task.seq_length, task.pad_id
    for row, mask in zip(block.input_ids, block.loss_mask):
        height = int((row[L + 1 :] != pad).sum())
        targets = set(range(L + 1, L + 1 + height))
        if task.score_end and L + 1 + height < 2 * L:
            targets.add(L + 1 + height)
        assert set((np.flatnonzero(mask) + 1).tolist()) == targets


@FAST
@given(stacks(), st.data())
def test_verify_rejects_corruption(case, data):
    task, seed, n = case
    ids = task.sample(np.random.default_rng(seed), n).input_ids
    L, V = task.seq_length, task.params["vocab_size"]
    row = data.draw(st.integers(0, n - 1))
    height = int((ids[row, L + 1 :] != task.pad_id).sum())

    wrong_top = ids.copy()  # a final-stack token replaced by another content token
    pos = L + 1 + data.draw(st.integers(0, height - 1))
    wrong_top[row, pos] = data.draw(st.sampled_from([t for t in range(1, V) if t != ids[row, pos]]))
    pop_first = ids.copy()  # the first op always pushes onto an empty stack
    pop_first[row, 0] = 0
    no_sep = ids.copy()
    no_sep[row, L] = task.pad_id
    for bad in (wrong_top, pop_first, no_sep):
        ok = task.verify(bad)
        assert not ok[row] and ok.sum() == n - 1


def test_push_probabilities_follow_phases():
    """With a roomy stack, pushes are 3/4 of the free choices before 2L/3 and 1/4 after."""
    task = get_task("stack", seq_length=60, vocab_size=1000)
    ids = task.sample(np.random.default_rng(0), 2000).input_ids
    early, late = [], []
    for row in ids[:, :60].tolist():
        _, trace = replay(row)
        for t, height, pushed in trace:
            if height >= 2 and t < 59:
                (early if 3 * t < 120 else late).append(pushed)
    assert abs(np.mean(early) - 0.75) < 0.02 and abs(np.mean(late) - 0.25) < 0.02


def test_pushes_pick_free_tokens_uniformly():
    task = get_task("stack", seq_length=8, vocab_size=6)
    ops = task.sample(np.random.default_rng(1), 4000).input_ids[:, :8]
    counts = np.bincount(ops[ops > 0], minlength=6)[1:]
    assert counts.min() > 0.9 * counts.mean()


def test_sampling_is_deterministic_and_handles_empty_blocks():
    task = get_task("stack")
    a = task.sample(np.random.default_rng(7), 5)
    b = task.sample(np.random.default_rng(7), 5)
    assert (a.input_ids == b.input_ids).all() and (a.loss_mask == b.loss_mask).all()
    empty = task.sample(np.random.default_rng(7), 0)
    assert empty.input_ids.shape == (0, 128) and task.verify(empty.input_ids).shape == (0,)


def test_verify_rejects_wrong_shapes():
    task = get_task("stack", seq_length=4, vocab_size=5)
    ids = task.sample(np.random.default_rng(0), 3).input_ids
    assert not task.verify(ids[:, :-1]).any()


def test_defaults_vocab_and_decode():
    task = get_task("stack")
    assert (task.length, task.vocab_size, task.pad_id) == (128, 102, 101)
    assert [task.decode_token(t) for t in (0, 5, 100, 101)] == ["POP", "5", "SEP", "PAD"]
    assert task_from_config(task.config_dict()) == task


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"seq_length": 2}, "seq_length"),
        ({"vocab_size": 2}, "vocab_size"),
        ({"score_end": "maybe"}, "score_end"),
        ({"depth": 3}, "depth"),
    ],
)
def test_bad_params_name_the_field(params, field):
    with pytest.raises(TaskError, match=field):
        get_task("stack", **params)
