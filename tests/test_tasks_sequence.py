"""Sequence tasks (identity, reverse, sort, set, union, delete, ww) against reference answers written in Python."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procpre.tasks import TaskError, get_task, task_from_config

FAST = settings(max_examples=25, deadline=None)
NAMES = ["identity", "reverse", "sort", "set", "union", "delete", "ww"]


def unique(xs: list[int]) -> list[int]:
    return list(dict.fromkeys(xs))


def delete_first(xs: list[int], d: int) -> list[int]:
    if d not in xs:
        return xs
    i = xs.index(d)
    return xs[:i] + xs[i + 1 :]


def reference(name: str, L: int, row: list[int]) -> tuple[list[list[int]], list[int]]:
    """(prompt parts, answer without padding) of a row, computed from the prompt."""
    if name == "union":
        a, b = row[: L // 2], row[L // 2 + 1 : L + 1]
        return [a, b], unique(a + b)
    if name == "delete":
        x, d = row[:L], row[L + 1]
        return [x, [d]], delete_first(x, d)
    x = row[:L]
    answer = {"identity": x, "ww": x, "reverse": x[::-1], "sort": sorted(x), "set": unique(x)}[name]
    return [x], answer


@st.composite
def sequence_tasks(draw, names=NAMES):
    name = draw(st.sampled_from(names))
    params = {"vocab_size": draw(st.integers(3, 20))}
    params["seq_length"] = 2 * draw(st.integers(1, 8)) if name == "union" else draw(st.integers(1, 16))
    if name in ("set", "union", "delete"):
        params["score_end"] = draw(st.booleans())
    return get_task(name, **params), draw(st.integers(0, 2**32)), draw(st.integers(1, 24))


def layout(task, row: list[int]) -> tuple[int, list[int], int]:
    """(answer start, answer without padding, slot length) of a generated row."""
    L, V = task.seq_length, task.params["vocab_size"]
    parts, answer = reference(task.name, L, row)
    start = sum(map(len, parts)) + (0 if task.name == "ww" else len(parts))
    for part in parts:
        assert all(1 <= tok < V for tok in part)
    return start, answer, task.length - start


@FAST
@given(sequence_tasks())
def test_samples_match_reference_answers(case):
    task, seed, n = case
    block = task.sample(np.random.default_rng(seed), n)
    assert block.input_ids.shape == (n, task.length) and task.verify(block.input_ids).all()
    sep, pad = task.params["vocab_size"], task.pad_id
    for row in block.input_ids.tolist():
        start, answer, slot = layout(task, row)
        assert row[start:] == answer + [pad] * (slot - len(answer))
        if task.name != "ww":
            assert row[start - 1] == sep


@FAST
@given(sequence_tasks())
def test_loss_mask_scores_the_answer(case):
    task, seed, n = case
    block = task.sample(np.random.default_rng(seed), n)
    for row, mask in zip(block.input_ids.tolist(), block.loss_mask):
        start, answer, slot = layout(task, row)
        targets = set(range(start, start + len(answer)))
        if task.params.get("score_end") and len(answer) < slot:
            targets.add(start + len(answer))
        assert set((np.flatnonzero(mask) + 1).tolist()) == targets


@FAST
@given(sequence_tasks(), st.data())
def test_verify_rejects_a_changed_answer_token(case, data):
    """The answer (padding included) is a function of the prompt: changing a token of it to another is wrong.

    Scored tokens are preferred; an empty answer (delete of the only token) leaves only its padding to change.
    """
    task, seed, n = case
    block = task.sample(np.random.default_rng(seed), n)
    V = task.params["vocab_size"]
    row = data.draw(st.integers(0, n - 1))
    scored = (np.flatnonzero(block.loss_mask[row]) + 1).tolist()
    pos = data.draw(st.sampled_from(scored or list(range(task.answer_start, task.length))))
    bad = block.input_ids.copy()
    bad[row, pos] = data.draw(st.sampled_from([t for t in range(1, V) if t != bad[row, pos]]))
    ok = task.verify(bad)
    assert not ok[row] and ok.sum() == n - 1


@FAST
@given(sequence_tasks([name for name in NAMES if name != "ww"]), st.data())
def test_verify_rejects_a_missing_separator(case, data):
    task, seed, n = case
    ids = task.sample(np.random.default_rng(seed), n).input_ids
    row = data.draw(st.integers(0, n - 1))
    ids[row, task.answer_start - 1] = 1  # the separator before the answer
    ok = task.verify(ids)
    assert not ok[row] and ok.sum() == n - 1


@pytest.mark.parametrize("name", NAMES)
def test_defaults_shapes_and_config(name):
    task = get_task(name)
    extra = {"union": 2, "delete": 3, "ww": 0}.get(name, 1)
    assert (task.length, task.vocab_size, task.pad_id) == (128 + extra, 102, 101)
    assert task_from_config(task.config_dict()) == task
    block = task.sample(np.random.default_rng(0), 0)
    assert block.input_ids.shape == (0, task.length) and task.verify(block.input_ids).shape == (0,)
    assert not task.verify(task.sample(np.random.default_rng(0), 2).input_ids[:, 1:]).any()
    assert [task.decode_token(t) for t in (5, 100, 101)] == ["5", "SEP", "PAD"]


def test_delete_of_an_absent_token_copies_the_input():
    task = get_task("delete", seq_length=3, vocab_size=50)
    ids = task.sample(np.random.default_rng(0), 200).input_ids
    absent = [row for row in ids.tolist() if row[4] not in row[:3]]
    assert absent and all(row[6:] == row[:3] for row in absent)


def test_tasks_draw_different_streams_only_by_address():
    """The same generator gives the same prompts (addressing separates tasks); sampling is deterministic."""
    a = get_task("sort", seq_length=8).sample(np.random.default_rng(1), 4)
    b = get_task("sort", seq_length=8).sample(np.random.default_rng(1), 4)
    assert (a.input_ids == b.input_ids).all() and (a.task == "sort").all()


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("sort", {"seq_length": 0}, "seq_length"),
        ("sort", {"vocab_size": 2}, "vocab_size"),
        ("union", {"seq_length": 7}, "seq_length"),
        ("set", {"score_end": "perhaps"}, "score_end"),
        ("sort", {"score_end": True}, "score_end"),
        ("identity", {"seq_length": 2.5}, "seq_length"),
    ],
)
def test_bad_params_name_the_field(name, params, field):
    with pytest.raises(TaskError, match=field):
        get_task(name, **params)


def test_unknown_task_suggests_a_name():
    with pytest.raises(TaskError, match="'sort'"):
        get_task("srot")
