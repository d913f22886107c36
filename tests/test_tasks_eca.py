"""Elementary cellular automata: rows follow the rule, only rows after the first are scored."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procpre.tasks import TaskError, get_task, task_from_config

FAST = settings(max_examples=25, deadline=None)


@st.composite
def ecas(draw):
    rule, width, steps = draw(st.integers(0, 255)), draw(st.integers(3, 12)), draw(st.integers(1, 6))
    task = get_task("eca", rule=rule, width=width, steps=steps)
    return task, draw(st.integers(0, 2**32)), draw(st.integers(1, 16))


def next_row(row: list[int], rule: int) -> list[int]:
    """Reference, cell by cell: Wolfram numbering, periodic boundary."""
    w = len(row)
    return [(rule >> (4 * row[i - 1] + 2 * row[i] + row[(i + 1) % w])) & 1 for i in range(w)]


def rows_of(ids: list[int], width: int) -> list[list[int]]:
    return [ids[start : start + width] for start in range(0, len(ids), width + 1)]


@FAST
@given(ecas())
def test_rows_follow_the_rule(case):
    task, seed, n = case
    block = task.sample(np.random.default_rng(seed), n)
    W, T = task.width, task.steps
    assert block.input_ids.shape == (n, W * (T + 1) + T) and task.verify(block.input_ids).all()
    for ids in block.input_ids.tolist():
        assert ids[W :: W + 1] == [2] * T
        rows = rows_of(ids, W)
        assert len(rows) == T + 1 and all(len(r) == W for r in rows)
        for prev, row in zip(rows, rows[1:]):
            assert row == next_row(prev, task.rule)


@FAST
@given(ecas())
def test_loss_mask_scores_cells_after_the_first_row(case):
    task, seed, n = case
    mask = task.sample(np.random.default_rng(seed), n).loss_mask
    W = task.width
    targets = {p for p in range(W + 1, task.length) if p % (W + 1) != W}
    for row in mask:
        assert set((np.flatnonzero(row) + 1).tolist()) == targets


@FAST
@given(ecas(), st.data())
def test_verify_rejects_corruption(case, data):
    task, seed, n = case
    ids = task.sample(np.random.default_rng(seed), n).input_ids
    W = task.width
    row = data.draw(st.integers(0, n - 1))
    flipped = ids.copy()  # any cell of rows 1..steps is fixed by the row above it
    pos = (W + 1) * data.draw(st.integers(1, task.steps)) + data.draw(st.integers(0, W - 1))
    flipped[row, pos] ^= 1
    no_sep = ids.copy()
    no_sep[row, W] = 0
    padded = ids.copy()
    padded[row, 0] = task.pad_id
    for bad in (flipped, no_sep, padded):
        ok = task.verify(bad)
        assert not ok[row] and ok.sum() == n - 1


def test_known_rows():
    rule30 = get_task("eca", rule=30, width=7)
    assert rule30.step(np.array([[0, 0, 0, 1, 0, 0, 0]])).tolist() == [[0, 0, 1, 1, 1, 0, 0]]
    rule110 = get_task("eca", rule=110, width=5)
    assert rule110.step(np.array([[1, 0, 0, 0, 0]])).tolist() == [[1, 0, 0, 0, 1]]  # periodic: cell 4 sees cell 0


def test_initial_rows_are_uniform_bits():
    task = get_task("eca")
    first = task.sample(np.random.default_rng(0), 2000).input_ids[:, : task.width]
    assert abs(first.mean() - 0.5) < 0.01


def test_defaults_decode_and_config():
    task = get_task("eca")
    assert (task.rule, task.width, task.steps) == (110, 32, 16)
    assert (task.length, task.vocab_size, task.pad_id) == (32 * 17 + 16, 4, 3)
    assert [task.decode_token(t) for t in range(4)] == [".", "#", "|", "PAD"]
    assert task_from_config(task.config_dict()) == task
    assert not task.verify(task.sample(np.random.default_rng(0), 2).input_ids[:, :-1]).any()
    assert task.sample(np.random.default_rng(0), 0).input_ids.shape == (0, task.length)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"rule": 256}, "rule"), ({"rule": -1}, "rule"), ({"width": 2}, "width"), ({"steps": 0}, "steps")],
)
def test_bad_params_name_the_field(params, field):
    with pytest.raises(TaskError, match=field):
        get_task("eca", **params)
