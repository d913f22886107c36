"""Dyck and Dyck-shuffle languages: generated words are in the language, verifiers reject words outside it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procpre.tasks import TaskError, get_task, task_from_config

FAST = settings(max_examples=25, deadline=None)
P_OPEN = st.floats(0.05, 0.95)


@st.composite
def dycks(draw):
    task = get_task("dyck", k=draw(st.integers(1, 6)), seq_length=2 * draw(st.integers(1, 20)), p_open=draw(P_OPEN))
    return task, draw(st.integers(0, 2**32)), draw(st.integers(1, 16))


@st.composite
def shuffles(draw):
    task = get_task(
        "dyck_shuffle",
        k=draw(st.integers(1, 6)),
        seq_length=draw(st.integers(1, 40)),
        p_open=draw(P_OPEN),
        max_depth=draw(st.integers(1, 8)),
    )
    return task, draw(st.integers(0, 2**32)), draw(st.integers(1, 16))


def nested(row: list[int], k: int) -> bool:
    """Reference: balanced and properly nested."""
    stack: list[int] = []
    for tok in row:
        if 0 <= tok < k:
            stack.append(tok)
        elif k <= tok < 2 * k and stack and stack[-1] == tok - k:
            stack.pop()
        else:
            return False
    return not stack


def shuffle_depths(row: list[int], k: int) -> list[int] | None:
    """Reference: total open count after each token, or None when some type closes more than it opened."""
    count = [0] * k
    depths = []
    for tok in row:
        if 0 <= tok < k:
            count[tok] += 1
        elif k <= tok < 2 * k and count[tok - k] > 0:
            count[tok - k] -= 1
        else:
            return None
        depths.append(sum(count))
    return depths


def check_language_mask(task, mask):
    expected = np.ones(task.length, bool)
    expected[-1] = False
    assert (mask == expected).all()


@FAST
@given(dycks())
def test_dyck_words_are_balanced_and_nested(case):
    task, seed, n = case
    block = task.sample(np.random.default_rng(seed), n)
    assert block.input_ids.shape == (n, task.seq_length) and task.kind == "language"
    assert task.verify(block.input_ids).all()
    assert all(nested(row, task.k) for row in block.input_ids.tolist())
    check_language_mask(task, block.loss_mask)


@FAST
@given(shuffles())
def test_shuffle_words_keep_counts_and_depth(case):
    task, seed, n = case
    block = task.sample(np.random.default_rng(seed), n)
    assert block.input_ids.shape == (n, task.seq_length)
    assert task.verify(block.input_ids).all()
    for row in block.input_ids.tolist():
        depths = shuffle_depths(row, task.k)
        assert depths is not None and max(depths) <= task.max_depth
        assert row[0] < task.k  # depth 0 opens
    check_language_mask(task, block.loss_mask)


@FAST
@given(dycks(), st.data())
def test_dyck_verify_rejects_corruption(case, data):
    task, seed, n = case
    ids = task.sample(np.random.default_rng(seed), n).input_ids
    row = data.draw(st.integers(0, n - 1))
    closes = np.flatnonzero(ids[row] >= task.k)
    pos = int(data.draw(st.sampled_from(closes.tolist())))
    corrupted = [ids.copy()]
    corrupted[0][row, pos] -= task.k  # a close turned into an open: unbalanced
    if task.k > 1:  # a close of another type: mismatched
        other = ids.copy()
        other[row, pos] = task.k + data.draw(st.sampled_from([t for t in range(task.k) if t != ids[row, pos] - task.k]))
        corrupted.append(other)
    for bad in corrupted:
        ok = task.verify(bad)
        assert not ok[row] and ok.sum() == n - 1


@FAST
@given(shuffles(), st.data())
def test_shuffle_verify_rejects_corruption(case, data):
    task, seed, n = case
    ids = task.sample(np.random.default_rng(seed), n).input_ids
    row = data.draw(st.integers(0, n - 1))
    tokens = ids[row].tolist()
    firsts = [tokens.index(t) for t in set(tokens) if t < task.k]  # first opens: nothing of that type open yet
    pos = data.draw(st.sampled_from(sorted(firsts)))
    bad = ids.copy()
    bad[row, pos] += task.k
    ok = task.verify(bad)
    assert not ok[row] and ok.sum() == n - 1


@pytest.mark.parametrize("name", ["dyck", "dyck_shuffle"])
def test_verify_rejects_pad_and_wrong_length(name):
    task = get_task(name, k=3, seq_length=10)
    ids = task.sample(np.random.default_rng(0), 4).input_ids
    padded = ids.copy()
    padded[0, -1] = task.pad_id
    assert task.verify(padded).tolist() == [False, True, True, True]
    assert not task.verify(ids[:, :-2]).any()


def test_dyck_types_are_uniform_and_p_open_sets_depth():
    task = get_task("dyck", k=5, seq_length=40)
    ids = task.sample(np.random.default_rng(0), 2000).input_ids
    counts = np.bincount(ids[ids < 5], minlength=5)
    assert counts.min() > 0.95 * counts.mean()

    def mean_depth(p):
        ids = get_task("dyck", k=2, seq_length=40, p_open=p).sample(np.random.default_rng(0), 500).input_ids
        return np.cumsum(np.where(ids < 2, 1, -1), axis=1).mean()

    assert mean_depth(0.8) > mean_depth(0.5) > mean_depth(0.2)


def test_shuffle_pairs_cross():
    """Unlike dyck, shuffle words close types that are not on top."""
    task = get_task("dyck_shuffle", k=4, seq_length=40)
    ids = task.sample(np.random.default_rng(0), 200).input_ids
    assert not get_task("dyck", k=4, seq_length=40).verify(ids).all()


def test_defaults_vocab_decode_and_config():
    dyck = get_task("dyck")
    assert (dyck.length, dyck.vocab_size, dyck.pad_id, dyck.k) == (2048, 129, 128, 64)
    assert get_task("dyck_shuffle").max_depth == 16
    small = get_task("dyck", k=6, seq_length=4)
    decoded = " ".join(small.decode_token(t) for t in (0, 1, 2, 3, 4, 6, 9, 10, 12))
    assert decoded == "( [ { < (4 ) > 4) PAD"
    for task in (dyck, get_task("dyck_shuffle", k=3, max_depth=4, p_open=0.3)):
        assert task_from_config(task.config_dict()) == task


def test_sampling_is_deterministic():
    for name in ("dyck", "dyck_shuffle"):
        task = get_task(name, k=4, seq_length=64)
        a, b = (task.sample(np.random.default_rng(3), 8).input_ids for _ in range(2))
        assert (a == b).all()
        assert task.sample(np.random.default_rng(3), 0).input_ids.shape == (0, 64)


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("dyck", {"seq_length": 7}, "seq_length"),
        ("dyck", {"seq_length": 0}, "seq_length"),
        ("dyck", {"k": 0}, "k"),
        ("dyck", {"p_open": 0.0}, "p_open"),
        ("dyck", {"p_open": 1.0}, "p_open"),
        ("dyck", {"max_depth": 4}, "max_depth"),
        ("dyck_shuffle", {"max_depth": 0}, "max_depth"),
        ("dyck_shuffle", {"p_open": 1.5}, "p_open"),
        ("dyck_shuffle", {"seq_length": 0}, "seq_length"),
    ],
)
def test_bad_params_name_the_field(name, params, field):
    with pytest.raises(TaskError, match=field):
        get_task(name, **params)


@pytest.mark.parametrize("name", ["dyck", "dyck_shuffle"])
def test_chunked_drawing_does_not_change_samples(name):
    """Rows are drawn a chunk at a time; full-range draws are sequential, so one big draw gives the same rows."""
    from procpre.tasks import dyck

    task = get_task(name, k=5, seq_length=12)
    chunked = task.sample(np.random.default_rng(9), 3 * dyck.CHUNK + 5).input_ids
    per_row = 6 if name == "dyck" else 12
    raw = np.random.default_rng(9).integers(0, 2**64, size=(len(chunked), per_row), dtype=np.uint64)
    whole = np.empty_like(chunked)
    if name == "dyck":
        dyck.dyck_fill(raw, whole, task.k, task.threshold)
    else:
        dyck.dyck_shuffle_fill(raw, whole, task.k, task.threshold, task.max_depth)
    assert (chunked == whole).all()
