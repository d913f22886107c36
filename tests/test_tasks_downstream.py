"""Downstream tasks (haystack, addition, reversed addition, multiplication, sorting) against Python references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procpre.data import fixed_test_set, generate, generate_block
from procpre.tasks import TaskError, get_task, task_from_config
from procpre.tasks.registry import parse_task_id

FAST = settings(max_examples=30, deadline=None)
ARITHMETIC = ["forwardaddition", "additionstream", "multiplication"]
OP, EQ, PAD, STOP = 10, 11, 12, 30


# -- Python references ---------------------------------------------------------------------
def arithmetic_row(task, a: int, b: int) -> list[int]:
    """The row for operands a, b, written from their decimal strings."""
    mult = task.name == "multiplication"
    answer = a * b if mult else a + b
    width = len(str(a)) + len(str(b)) if mult else max(len(str(a)), len(str(b))) + 1
    text = str(answer).zfill(width) if task.leading_zeros else str(answer)
    order = (lambda s: s[::-1]) if task.name == "additionstream" else (lambda s: s)
    row = [int(c) for c in order(str(a))] + [OP] + [int(c) for c in order(str(b))] + [EQ]
    row += [int(c) + 20 for c in order(text)] + [STOP]
    return row + [PAD] * (task.length - len(row))


def arithmetic_operands(task, row: list[int]) -> tuple[int, int]:
    op, eq = row.index(OP), row.index(EQ)
    order = (lambda s: s[::-1]) if task.name == "additionstream" else (lambda s: s)
    return int(order("".join(map(str, row[:op])))), int(order("".join(map(str, row[op + 1 : eq]))))


def answer_span(task, row: list[int]) -> tuple[int, int]:
    """(first answer position, stop position) of a generated row."""
    if task.name == "condattendstream":
        q = next(i for i, t in enumerate(row) if t >= task.n + 128)
        return q + 1, q + 1  # one answer token, no stop
    if task.name == "sorting":
        return task.n + 1, 2 * task.n + 1
    return row.index(EQ) + 1, row.index(STOP)


@st.composite
def tasks(draw, names=(*ARITHMETIC, "condattendstream", "sorting")):
    name = draw(st.sampled_from(names))
    if name == "condattendstream":
        params = {"n": draw(st.sampled_from([1, 2, 3, 7, 64]))}
    elif name == "sorting":
        params = {"n": draw(st.integers(1, 8)), "vocab": draw(st.integers(2, 20))}
    else:
        lo = draw(st.integers(1, 4))
        params = {"min_digits": lo, "max_digits": draw(st.integers(lo, 6)), "leading_zeros": draw(st.booleans())}
    return get_task(name, test_size=0, **params), draw(st.integers(0, 2**32)), draw(st.integers(1, 40))


# -- exact formats ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("task_id", "params", "a", "b", "expected"),
    [
        ("forwardaddition_2", {}, 57, 68, [5, 7, 10, 6, 8, 11, 21, 22, 25, 30]),
        ("forwardaddition_2", {}, 12, 34, [1, 2, 10, 3, 4, 11, 20, 24, 26, 30]),  # leading zero kept
        ("forwardaddition_2", {"leading_zeros": False}, 12, 34, [1, 2, 10, 3, 4, 11, 24, 26, 30, 12]),
        ("forwardaddition_1_3", {}, 5, 123, [5, 10, 1, 2, 3, 11, 20, 21, 22, 28, 30, 12, 12]),
        ("additionstream_2", {}, 57, 68, [7, 5, 10, 8, 6, 11, 25, 22, 21, 30]),
        ("additionstream_1_3", {}, 5, 123, [5, 10, 3, 2, 1, 11, 28, 22, 21, 20, 30, 12, 12]),
        ("multiplication_2", {}, 57, 68, [5, 7, 10, 6, 8, 11, 23, 28, 27, 26, 30, 12, 12, 12]),
        ("multiplication_2", {}, 10, 10, [1, 0, 10, 1, 0, 11, 20, 21, 20, 20, 30, 12, 12, 12]),
        ("multiplication_2", {"leading_zeros": False}, 10, 10, [1, 0, 10, 1, 0, 11, 21, 20, 20, 30] + [12] * 4),
    ],
)
def test_arithmetic_hand_checked_rows(task_id, params, a, b, expected):
    task = get_task(task_id, test_size=0, **params)
    row = task.encode([a], [b])
    assert row[0].tolist() == expected == arithmetic_row(task, a, b)
    assert task.verify(row).tolist() == [True]


def test_haystack_and_sorting_hand_checked_rows():
    hay = get_task("condattendstream_3", test_size=0)
    row = np.array([[130, 17, 128, 5, 131, 5, 0, 0, 0]])  # k2 v17 k0 v5 q0 [v5]
    assert hay.verify(row).tolist() == [True]
    assert hay.decode(row[0]) == "k2 v17 k0 v5 q0 v5 PAD PAD PAD"
    assert np.flatnonzero(hay.metric_masks(row)["published"][0]).tolist() == [4]
    for bad in ([130, 17, 128, 5, 131, 17, 0, 0, 0], [130, 17, 130, 5, 133, 17, 0, 0, 0], [130, 17, 128, 5, 132, 5, 0]):
        assert not hay.verify(np.array([bad + [0] * (9 - len(bad))])).any()
    srt = get_task("sorting_3", test_size=0)
    row = np.array([[9, 2, 9, 64, 67, 74, 74, 129]])
    assert srt.verify(row).tolist() == [True] and srt.decode(row[0]) == "9 2 9 SEP 2 9 9 STOP"
    assert np.flatnonzero(srt.metric_masks(row)["published"][0]).tolist() == [4, 5, 6]


@pytest.mark.parametrize("n", [1, 2, 5])
def test_lengths(n):
    assert get_task(f"condattendstream_{n}", test_size=0).length == 2 * n + 3
    assert get_task(f"forwardaddition_{n}", test_size=0).length == 3 * n + 4
    assert get_task(f"additionstream_{n}", test_size=0).length == 3 * n + 4
    assert get_task(f"multiplication_{n}", test_size=0).length == 5 * n + 4
    assert get_task(f"sorting_{n}", test_size=0).length == 2 * n + 2
    # with leading zeros the addition answer fills the slot exactly: stop is the last token
    for name in ("forwardaddition", "additionstream"):
        ids = get_task(f"{name}_{n}", test_size=0).sample(np.random.default_rng(n), 50).input_ids
        assert (ids[:, -1] == STOP).all()


# -- generated samples against the references ----------------------------------------------
@FAST
@given(tasks())
def test_generated_samples_verify_and_match_references(case):
    task, seed, n = case
    block = task.sample(np.random.default_rng(seed), n)
    assert block.input_ids.shape == (n, task.length) and task.verify(block.input_ids).all()
    assert block.input_ids.min() >= 0 and block.input_ids.max() < task.vocab_size
    for row, mask in zip(block.input_ids.tolist(), block.loss_mask):
        first, stop = answer_span(task, row)
        assert (np.flatnonzero(mask) + 1).tolist() == list(range(first, stop + 1))
        if task.name in ARITHMETIC:
            a, b = arithmetic_operands(task, row)
            for x in (a, b):
                assert task.min_digits <= len(str(x)) <= task.max_digits
            assert row == arithmetic_row(task, a, b)
        elif task.name == "sorting":
            x = row[: task.n]
            assert max(x) < task.vocab and row[task.n :] == [task.vocab] + [v + task.vocab + 1 for v in sorted(x)] + [
                2 * task.vocab + 1
            ]
        else:
            keys, values = [t - 128 for t in row[: first - 1 : 2]], row[1 : first - 1 : 2]
            assert 1 <= len(keys) <= task.n and len(set(keys)) == len(keys) and all(0 <= k < task.n for k in keys)
            assert all(1 <= v <= 127 for v in values) and set(row[first + 1 :]) <= {0}
            assert row[first] == values[keys.index(row[first - 1] - task.n - 128)]


@FAST
@given(tasks(), st.data())
def test_verify_rejects_a_changed_answer_or_padding_token(case, data):
    task, seed, n = case
    ids = task.sample(np.random.default_rng(seed), n).input_ids
    row = data.draw(st.integers(0, n - 1))
    first, _ = answer_span(task, ids[row].tolist())
    pos = data.draw(st.integers(first, task.length - 1))
    ids[row, pos] = data.draw(st.sampled_from([t for t in range(task.vocab_size) if t != ids[row, pos]]))
    ok = task.verify(ids)
    assert not ok[row] and ok.sum() == n - 1


@FAST
@given(tasks(ARITHMETIC), st.data())
def test_verify_rejects_a_malformed_prompt(case, data):
    """A leading zero, a missing separator or a non-digit operand token is not a task instance."""
    task, seed, n = case
    ids = task.sample(np.random.default_rng(seed), n).input_ids
    row = data.draw(st.integers(0, n - 1))
    op, eq = ids[row].tolist().index(OP), ids[row].tolist().index(EQ)
    kind = data.draw(st.sampled_from(["lead", "op", "eq", "digit"]))
    if kind == "lead":
        ids[row, op - 1 if task.name == "additionstream" else 0] = 0
    elif kind in ("op", "eq"):
        ids[row, op if kind == "op" else eq] = data.draw(st.sampled_from([PAD, STOP, 25]))
    else:
        ids[row, data.draw(st.integers(0, eq - 1).filter(lambda i: i != op))] = data.draw(st.sampled_from([12, 25, 30]))
    ok = task.verify(ids)
    assert not ok[row] and ok.sum() == n - 1


def test_verify_rejects_wrong_shapes():
    for name in (*ARITHMETIC, "condattendstream", "sorting"):
        task = get_task(name, test_size=0)
        ids = task.sample(np.random.default_rng(0), 3).input_ids
        assert task.verify(ids).all() and not task.verify(ids[:, :-1]).any()
        assert task.verify(ids[:0]).shape == (0,)


def test_generation_covers_the_published_ranges():
    """Digit counts cover min..max with nonzero leading digits; haystacks hold 1..N pairs and every key."""
    task = get_task("forwardaddition_1_3", test_size=0)
    rows = task.sample(np.random.default_rng(0), 3000).input_ids.tolist()
    operands = [x for row in rows for x in arithmetic_operands(task, row)]
    assert {len(str(x)) for x in operands} == {1, 2, 3} and min(operands) >= 1
    hay = get_task("condattendstream_5", test_size=0)
    rows = hay.sample(np.random.default_rng(0), 3000).input_ids.tolist()
    pairs = [answer_span(hay, row)[0] // 2 for row in rows]
    assert set(pairs) == {1, 2, 3, 4, 5}
    assert {row[0] - 128 for row in rows} == set(range(5)) and max(max(row) for row in rows) < 256
    assert get_task("condattendstream_64", test_size=0).sample(np.random.default_rng(0), 500).input_ids.max() <= 255


# -- metrics ----------------------------------------------------------------------------------
@FAST
@given(tasks(), st.booleans())
def test_published_mask(case, filled):
    """Current token >= 20 (the query for the haystack): never the first answer digit; the pad after stop if any."""
    task, seed, n = case
    block = task.sample(np.random.default_rng(seed), n)
    published = task.metric_masks(block.input_ids)["published"]
    assert set(task.metric_masks(block.input_ids)) == {"published"} and not published[:, -1].any()
    for row, mask, loss in zip(block.input_ids.tolist(), published, block.loss_mask):
        first, stop = answer_span(task, row)
        scored = np.flatnonzero(mask).tolist()
        if task.name == "condattendstream":
            assert scored == [first - 1] == np.flatnonzero(loss).tolist()
            continue
        assert first - 1 not in scored and bool(loss[first - 1])  # the first answer digit: in the loss only
        beyond = [stop] if stop < task.length - 1 else []
        assert scored == list(range(first, stop)) + beyond
        if task.name == "multiplication":
            assert beyond and row[stop + 1] == PAD
        if task.name != "sorting":
            assert scored == [i for i, t in enumerate(row[:-1]) if t >= 20]


# -- ids, parameters, decoding ----------------------------------------------------------------
def test_published_ids_parse():
    assert parse_task_id("condattendstream_30") == ("condattendstream", {"n": 30})
    assert parse_task_id("forwardaddition_3_5") == ("forwardaddition", {"min_digits": 3, "max_digits": 5})
    assert parse_task_id("forwardaddition_5") == ("forwardaddition", {"min_digits": 5, "max_digits": 5})
    assert parse_task_id("sorting_12") == ("sorting", {"n": 12})
    task = get_task("forwardaddition_3_5")
    assert (task.min_digits, task.max_digits, task.test_size, task.length, task.vocab_size) == (3, 5, 4000, 19, 31)
    assert get_task("condattendstream_30").n == 30 and get_task("condattendstream_30").vocab_size == 256
    assert get_task("multiplication_2_4").params["max_digits"] == 4
    for name in ("condattendstream_30", "forwardaddition_3_5", "additionstream_10", "multiplication_5", "sorting"):
        task = get_task(name)
        assert task_from_config(task.config_dict()) == task and task.kind == "sequence"
        assert task.heldout_size == 4000


@pytest.mark.parametrize(
    ("task_id", "params", "field"),
    [
        ("condattendstream_65", {}, "'n'"),
        ("condattendstream", {"n": 0}, "'n'"),
        ("forwardaddition_5_3", {}, "'min_digits'"),
        ("multiplication", {"min_digits": 0}, "'min_digits'"),
        ("additionstream", {"max_digits": 0}, "'max_digits'"),
        ("forwardaddition_1", {}, "'test_size'"),  # 81 distinct samples cannot hold out 4000
        ("forwardaddition_2", {"test_size": -1}, "'test_size'"),
        ("sorting", {"vocab": 1}, "'vocab'"),
        ("sorting_2", {"vocab": 8}, "'test_size'"),
    ],
)
def test_bad_params_name_the_field(task_id, params, field):
    with pytest.raises(TaskError, match=field):
        get_task(task_id, **params)


def test_decode_tokens():
    add, mul = get_task("forwardaddition_2", test_size=0), get_task("multiplication_2", test_size=0)
    assert [add.decode_token(t) for t in (0, 9, 10, 11, 12, 20, 29, 30, 15)] == [
        "0",
        "9",
        "+",
        "=",
        "PAD",
        "0",
        "9",
        "STOP",
        "<15>",
    ]
    assert mul.decode_token(10) == "*"
    hay = get_task("condattendstream_3", test_size=0)
    assert [hay.decode_token(t) for t in (0, 17, 128, 130, 131, 133, 134)] == [
        "PAD",
        "v17",
        "k0",
        "k2",
        "q0",
        "q2",
        "<134>",
    ]
    srt = get_task("sorting", vocab=8, test_size=0)
    assert [srt.decode_token(t) for t in (0, 7, 8, 9, 16, 17, 18)] == ["0", "7", "SEP", "0", "7", "STOP", "PAD"]
    assert srt.pad_id == 18 and srt.vocab_size == 19


# -- held-out test set --------------------------------------------------------------------------
def test_training_blocks_never_contain_the_heldout_test_set():
    task = get_task("forwardaddition_2", test_size=500)
    unfiltered = get_task("forwardaddition_2", test_size=0)  # same stream (same name), no filtering
    held = fixed_test_set(task, 0)
    keys = {row.tobytes() for row in held.input_ids}
    assert len(held) == len(keys) == 500 and task.verify(held.input_ids).all()
    leaked = 0
    for b in range(3):
        block = generate_block(task, 0, "train", b)
        assert len(block) == task.block_size and task.verify(block.input_ids).all()
        assert not any(row.tobytes() in keys for row in block.input_ids)
        raw = generate_block(unfiltered, 0, "train", b)
        hit = np.array([row.tobytes() in keys for row in raw.input_ids])
        leaked += int(hit.sum())
        # filtering only skips held-out rows: the block starts with the raw block's other rows, in order
        kept = raw.input_ids[~hit]
        assert np.array_equal(block.input_ids[: len(kept)], kept)
    assert leaked > 0  # without filtering, the training stream would contain test samples


def test_builder_streams_the_filtered_training_data(tmp_path):
    from builders import DownstreamTasks

    assert [c.name for c in DownstreamTasks.BUILDER_CONFIGS] == [
        "condattendstream",
        "forwardaddition",
        "additionstream",
        "multiplication",
        "sorting",
    ]
    params = {"min_digits": 2, "max_digits": 2, "test_size": 500}
    builder = DownstreamTasks(config_name="forwardaddition", params=params, num_train=100, cache_dir=str(tmp_path))
    first = next(iter(builder.as_streaming_dataset("train")))
    assert first["input_ids"] == generate(get_task("forwardaddition", **params), 0, "train", 0, 1).input_ids[0].tolist()


def test_haystack_error_groups_count_pairs_and_place_the_queried_one():
    hay = get_task("condattendstream_3", test_size=0)
    rows = np.array([[130, 17, 128, 5, 131, 5, 0, 0, 0], [129, 4, 133, 4, 0, 0, 0, 0, 0]])  # q0 is pair 2; q1 pair 1
    groups = hay.error_groups(rows)
    index, labels = groups["pairs in the sample"]
    assert index.tolist() == [1, 0] and labels == ("1", "2", "3")  # three values: one group each
    index, labels = groups["place of the queried pair (1 = first)"]
    assert [labels[i] for i in index] == ["2", "1"]
    # against the generator's own layout, on many samples of the real task
    big = get_task("condattendstream_30", test_size=0)
    block = big.sample(np.random.default_rng(0), 2000)
    index, labels = big.error_groups(block.input_ids)["pairs in the sample"]
    pairs = block.loss_mask.argmax(1) // 2  # the query sits right after the last pair
    assert labels == ("1-5", "6-10", "11-15", "16-20", "21-25", "26-30")
    assert ((pairs - 1) // 5 == index).all()


def test_equal_bins_cover_the_range_without_gaps():
    from procpre.tasks.base import equal_bins

    index, labels = equal_bins(np.array([1, 5, 6, 7, 13]), 1, 13, count=3)
    assert labels == ("1-5", "6-10", "11-13") and index.tolist() == [0, 0, 1, 1, 2]


def test_arithmetic_error_groups_count_carries_and_operand_digits():
    task = get_task("forwardaddition_1_2", test_size=0)
    groups = task.error_groups(task.encode([57, 11, 95], [68, 22, 5]))  # 57+68 and 95+5 carry twice; 11+22 never
    index, labels = groups["carries"]
    assert [labels[i] for i in index] == ["2", "0", "2"]
    index, labels = groups["digits of the longer operand"]
    assert [labels[i] for i in index] == ["2", "2", "2"] and labels == ("1", "2")
    # reversed addition reads the same operands least significant digit first
    stream = get_task("additionstream_1_2", test_size=0)
    index, labels = stream.error_groups(stream.encode([57, 11, 95], [68, 22, 5]))["carries"]
    assert [labels[i] for i in index] == ["2", "0", "2"]
    # a grouping with one group only (operands of one length) says nothing and is left out
    five = get_task("forwardaddition_5", test_size=0)
    assert set(five.error_groups(five.encode([12345], [67890]))) == {"carries"}
