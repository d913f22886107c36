"""Downstream algorithmic tasks: needle in a haystack, addition, reversed addition, multiplication, sorting.

The layouts follow the released generators (token ids included), so published
task ids (`condattendstream_30`, `forwardaddition_3_5`) name the same tasks. Three
things differ on purpose:

- the loss mask scores every answer token (the first answer digit and the stop
  token included, never the prompt or padding); the release trained and scored
  on positions whose *current* token is an output token, which never scores the
  first answer digit. That published mask is still reported, under the name
  `published` (`metric_masks`), for comparison with the paper;
- arithmetic answers keep their leading zeros by default (`leading_zeros`), so
  the answer length depends only on the operand lengths; `leading_zeros=false`
  writes `str(a+b)` / `str(a*b)` as the release does;
- reversed addition honours `max_digits` (the release silently uses `min_digits`
  for both).

Every task holds out a fixed test set (`test_size` distinct samples of the test
split) that `procpre.data` never emits for training.

>>> import numpy as np
>>> from procpre.tasks import get_task
>>> task = get_task("forwardaddition_2")
>>> task.decode(task.encode([57], [68])[0])
'5 7 + 6 8 = 1 2 5 STOP'
>>> get_task("additionstream_2").decode(get_task("additionstream_2").encode([57], [68])[0])
'7 5 + 8 6 = 5 2 1 STOP'
>>> get_task("multiplication_2").decode(get_task("multiplication_2").encode([57], [68])[0])
'5 7 * 6 8 = 3 8 7 6 STOP PAD PAD PAD'
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from procpre.tasks.base import Grouping, Param, Task, TaskError, equal_bins
from procpre.tasks.registry import register

#: the released generators hold out (and evaluate on) 4 000 samples
TEST_SIZE = Param(
    "test_size", 4000, "distinct test samples held out of the training stream (0: none)", low=0, high=10_000_000
)

# arithmetic tokens (shared by addition, reversed addition and multiplication)
OP, EQ, PAD, OUT, STOP = 10, 11, 12, 20, 30


def _write(out: np.ndarray, offset: np.ndarray, values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Write the first `lengths[r]` entries of `values[r]` at `out[r, offset[r]:]`; return the offsets after them.

    Rows hold segments of different lengths; this places them all without a Python loop over rows.
    """
    n, width = values.shape
    j = np.arange(width)
    valid = j[None, :] < lengths[:, None]
    rows = np.broadcast_to(np.arange(n)[:, None], (n, width))
    out[rows[valid], (offset[:, None] + j)[valid]] = values[valid]
    return offset + lengths


def _carry(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Little-endian column sums [n, W] -> (decimal digits [n, W], columns that carried [n]); the sum fits W."""
    digits = np.empty_like(columns)
    carry = np.zeros(len(columns), dtype=columns.dtype)
    carried = np.zeros(len(columns), dtype=np.int64)
    for i in range(columns.shape[1]):
        total = columns[:, i] + carry
        digits[:, i], carry = total % 10, total // 10
        carried += carry > 0
    return digits, carried


def _significant(digits: np.ndarray) -> np.ndarray:
    """Number of digits of each little-endian number without leading zeros (1 for zero)."""
    width = digits.shape[1]
    nonzero = digits[:, ::-1] != 0
    return np.where(nonzero.any(axis=1), width - nonzero.argmax(axis=1), 1)


def _to_digits(values: ArrayLike, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative integers -> (little-endian digits [n, width], digit counts [n])."""
    x = np.asarray(values, dtype=np.int64).reshape(-1).copy()
    digits = np.zeros((len(x), width), dtype=np.int64)
    for i in range(width):
        digits[:, i], x = x % 10, x // 10
    if (x != 0).any():
        raise TaskError(f"operands must have at most {width} digits")
    return digits, _significant(digits)


class _Arithmetic(Task):
    """`a OP b = answer STOP PAD..`: operands of `min_digits..max_digits` digits, answer digits written `d+20`.

    Subclasses say how the answer is computed (`_columns`, before carrying), how wide it can be
    (`answer_width`), whether numbers are written least-significant digit first
    (`lsb_first`), and the slot length (`length`, as published).
    """

    shuffle_control = False

    ID_PARAMS: ClassVar[tuple[str, ...]] = ("min_digits", "max_digits")
    op_symbol: ClassVar[str] = "+"
    lsb_first: ClassVar[bool] = False

    @staticmethod
    def digit_params(default: int) -> tuple[Param, ...]:
        return (
            Param("min_digits", default, "fewest digits of an operand (leading digit nonzero)", low=1, high=100),
            Param("max_digits", default, "most digits of an operand (the slot is sized for it)", low=1, high=100),
            Param("leading_zeros", True, "write the answer at full width with leading zeros (false: as released)"),
            TEST_SIZE,
        )

    def _check(self) -> None:
        if self.min_digits > self.max_digits:
            raise TaskError(
                f"{self.name}: parameter 'min_digits' must be <= max_digits={self.max_digits}, got {self.min_digits}"
            )
        _check_test_size(self)

    def distinct_samples(self) -> int:
        """How many different samples exist: every pair of operands (the answer follows)."""
        operands = 10**self.max_digits - 10 ** (self.min_digits - 1)
        return operands * operands

    @property
    def vocab_size(self) -> int:
        return STOP + 1

    @property
    def pad_id(self) -> int:
        return PAD

    @property
    def answer_width(self) -> int:
        raise NotImplementedError

    def _columns(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Little-endian column sums [n, answer_width] of the answer, before carrying."""
        raise NotImplementedError

    def _answer(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Little-endian answer digits [n, answer_width] of little-endian operands [n, max_digits]."""
        return _carry(self._columns(a, b))[0]

    def _carries(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Columns of the answer that carry, for little-endian operands."""
        return _carry(self._columns(a, b))[1]

    def _full_width(self, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
        """Answer length with leading zeros kept, from the operand lengths."""
        raise NotImplementedError

    # -- layout -------------------------------------------------------------------------
    def _ordered(self, digits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Little-endian digits -> the order they are written in (most significant first unless `lsb_first`)."""
        if self.lsb_first:
            return digits
        j = np.arange(digits.shape[1])
        index = np.clip(lengths[:, None] - 1 - j[None, :], 0, digits.shape[1] - 1)
        return np.take_along_axis(digits, index, axis=1)

    def _render(self, a: np.ndarray, la: np.ndarray, b: np.ndarray, lb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows [n, T], answer lengths [n]) of operands given as little-endian digits and digit counts."""
        n = len(a)
        answer = self._answer(a, b)
        lr = self._full_width(la, lb) if self.leading_zeros else _significant(answer)
        out = np.full((n, self.length), PAD, dtype=np.int64)
        one = np.ones(n, dtype=np.int64)
        off = np.zeros(n, dtype=np.int64)
        off = _write(out, off, self._ordered(a, la), la)
        off = _write(out, off, np.full((n, 1), OP), one)
        off = _write(out, off, self._ordered(b, lb), lb)
        off = _write(out, off, np.full((n, 1), EQ), one)
        off = _write(out, off, self._ordered(answer, lr) + OUT, lr)
        _write(out, off, np.full((n, 1), STOP), one)
        return out, lr

    def _loss_mask(self, la: np.ndarray, lb: np.ndarray, lr: np.ndarray) -> np.ndarray:
        """Score predicting every answer digit and the stop token: positions from `=` to the last digit."""
        eq = la + lb + 1
        cols = np.arange(self.length)[None, :]
        return (cols >= eq[:, None]) & (cols <= (eq + lr)[:, None])

    def encode(self, a: ArrayLike, b: ArrayLike) -> np.ndarray:
        """Rows [n, T] for given operands (for examples and tests); operand lengths must be in range."""
        da, la = _to_digits(a, self.max_digits)
        db, lb = _to_digits(b, self.max_digits)
        for name, x, lengths in (("a", a, la), ("b", b, lb)):
            if ((np.asarray(x).reshape(-1) < 1) | (lengths < self.min_digits)).any():
                raise TaskError(f"{self.name}: operand {name} must have {self.min_digits}..{self.max_digits} digits")
        return self._render(da, la, db, lb)[0]

    # -- the task interface ----------------------------------------------------------------
    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        # as released: a digit count uniform in min..max, then a number uniform among those with that many digits
        d = self.max_digits
        la = rng.integers(self.min_digits, d + 1, size=n)
        lb = rng.integers(self.min_digits, d + 1, size=n)
        j = np.arange(d)[None, :]
        digits = []
        for lengths in (la, lb):
            x = rng.integers(0, 10, size=(n, d))
            lead = rng.integers(1, 10, size=n)
            x = np.where(j == lengths[:, None] - 1, lead[:, None], np.where(j < lengths[:, None], x, 0))
            digits.append(x)
        ids, lr = self._render(digits[0], la, digits[1], lb)
        return ids, self._loss_mask(la, lb, lr)

    def verify(self, input_ids: np.ndarray) -> np.ndarray:
        """Parse the operands, recompute the whole row (answer, separators, stop, padding) and compare."""
        ids = np.asarray(input_ids)
        if ids.ndim != 2 or ids.shape[1] != self.length:
            return np.zeros(len(ids), dtype=bool)
        ok, la, lb, a, b = self._parse(ids.astype(np.int64))
        expected, _ = self._render(a, la, b, lb)
        return ok & (expected == ids).all(axis=1)

    def error_groups(self, input_ids: np.ndarray) -> dict[str, Grouping]:
        """By the longer operand's digit count and by how many columns of the answer carry (when they vary)."""
        _, la, lb, a, b = self._parse(np.asarray(input_ids).astype(np.int64))
        groups = {
            "digits of the longer operand": equal_bins(np.maximum(la, lb), self.min_digits, self.max_digits),
            "carries": equal_bins(self._carries(a, b), 0, self.answer_width - 1),
        }
        return {name: grouping for name, grouping in groups.items() if len(grouping[1]) > 1}

    def _parse(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(well formed, len a, len b, little-endian digits of a, of b) of rows [n, T]; lengths clipped to range."""
        n, d = len(ids), self.max_digits
        is_op, is_eq = ids == OP, ids == EQ
        la = is_op.argmax(axis=1)
        lb = is_eq.argmax(axis=1) - la - 1
        ok = is_op.any(axis=1) & is_eq.any(axis=1)
        ok &= (la >= self.min_digits) & (la <= d) & (lb >= self.min_digits) & (lb <= d)
        la, lb = np.clip(la, 1, d), np.clip(lb, 1, d)
        operands = []
        for start, lengths in ((np.zeros(n, dtype=np.int64), la), (la + 1, lb)):
            j = np.arange(d)[None, :]
            pos = start[:, None] + (j if self.lsb_first else lengths[:, None] - 1 - j)
            x = np.take_along_axis(ids, np.clip(pos, 0, self.length - 1), axis=1)
            x = np.where(j < lengths[:, None], x, 0)
            ok &= ((x >= 0) & (x <= 9)).all(axis=1) & (x[np.arange(n), lengths - 1] != 0)
            operands.append(np.clip(x, 0, 9))
        return ok, la, lb, operands[0], operands[1]

    def metric_masks(self, input_ids: np.ndarray) -> dict[str, np.ndarray]:
        """The published metric: positions whose *current* token is >= 20 (an output digit or stop).

        It never scores the first answer digit, and scores the token after stop (padding) where there is one.
        """
        ids = np.asarray(input_ids)
        mask = ids >= OUT
        mask[:, -1] = False
        return {"published": mask}

    def decode_token(self, token: int) -> str:
        if 0 <= token <= 9:
            return str(token)
        if OUT <= token <= OUT + 9:
            return str(token - OUT)
        return {OP: self.op_symbol, EQ: "=", PAD: "PAD", STOP: "STOP"}.get(token, f"<{token}>")


class _Addition(_Arithmetic):
    @property
    def length(self) -> int:
        return 3 * self.max_digits + 4

    @property
    def answer_width(self) -> int:
        return self.max_digits + 1

    def _columns(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        columns = np.zeros((len(a), self.answer_width), dtype=np.int64)
        columns[:, : self.max_digits] = a + b
        return columns

    def _full_width(self, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
        return np.maximum(la, lb) + 1


@register
class ForwardAddition(_Addition):
    """Addition, numbers written most significant digit first; the sum as `d+20`, then stop (30), then PAD (12).

    Example (`forwardaddition_2`, 57+68): `5 7 + 6 8 = [1 2 5 STOP]` = tokens `5 7 10 6 8 11 21 22 25 30`.
    The sum has max(len a, len b)+1 digits (leading zero kept), so `forwardaddition_N` fills exactly 3N+4 tokens.
    """

    name = "forwardaddition"
    description = "a+b= then the sum (digits as d+20) and stop; most significant digit first"
    PARAMS: ClassVar[tuple[Param, ...]] = _Arithmetic.digit_params(5)


@register
class AdditionStream(_Addition):
    """Reversed addition: every number (operands and sum) least significant digit first.

    Example (`additionstream_2`, 57+68): `7 5 + 8 6 = [5 2 1 STOP]` = tokens `7 5 10 8 6 11 25 22 21 30`.
    """

    name = "additionstream"
    description = "a+b= then the sum and stop, every number least significant digit first"
    PARAMS: ClassVar[tuple[Param, ...]] = _Arithmetic.digit_params(10)
    lsb_first = True


@register
class Multiplication(_Arithmetic):
    """Multiplication `a * b =`, `*` = 10; the product has len(a)+len(b) digits (leading zero kept), then stop.

    Example (`multiplication_2`, 57*68): `5 7 * 6 8 = [3 8 7 6 STOP] PAD PAD PAD PAD PAD`; the published
    slot of 5N+4 tokens always leaves padding after stop, which the published metric scores.
    """

    name = "multiplication"
    description = "a*b= then the product (digits as d+20) and stop, padded to 5N+4"
    PARAMS: ClassVar[tuple[Param, ...]] = _Arithmetic.digit_params(5)
    op_symbol = "*"

    @property
    def length(self) -> int:
        return 5 * self.max_digits + 4

    @property
    def answer_width(self) -> int:
        return 2 * self.max_digits

    def _columns(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = self.max_digits
        columns = np.zeros((len(a), self.answer_width), dtype=np.int64)
        for i in range(d):  # schoolbook: column sums stay below 81*d, far from overflow
            columns[:, i : i + d] += a[:, i : i + 1] * b
        return columns

    def _full_width(self, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
        return la + lb


def _check_test_size(task: Task) -> None:
    """Keep at least half of all distinct samples for training, so filtering the stream always terminates quickly."""
    space = task.distinct_samples()  # type: ignore[attr-defined]
    if task.test_size > space // 2:
        raise TaskError(
            f"{task.name}: parameter 'test_size' must be at most {space // 2} (half of the {space} distinct "
            f"samples of these parameters), got {task.test_size}"
        )


# -- needle in a haystack ---------------------------------------------------------------
HALF = 128  # keys are written key+128; values are 1..127; vocabulary 256


@register
class CondAttendStream(Task):
    """Needle in a haystack: key/value pairs, a query key, then its value.

    Layout (`N` = `n`): `n_pairs` uniform in 1..N distinct keys from 0..N-1 in random
    order, each written `key+128` followed by its value (1..127); then the query
    `q+N+128` for one of those keys, then its value; right-padded with 0 to 2N+3
    tokens. Only the value after the query is scored (the published metric
    scores the same position: the current token is the query).

    Example (N=3): `k2 v17 k0 v5 q0 [v5] PAD PAD PAD` = tokens `130 17 128 5 131 5 0 0 0`.
    """

    shuffle_control = False

    name = "condattendstream"
    description = "key/value pairs (key+128, value 1..127), a query key+N+128, then its value; pad 0"
    ID_PARAMS: ClassVar[tuple[str, ...]] = ("n",)
    PARAMS: ClassVar[tuple[Param, ...]] = (
        # the largest query token is 2N-1+128, which must stay below the vocabulary of 256
        Param("n", 30, "most key/value pairs N (keys 0..N-1; query tokens q+N+128 <= 255)", low=1, high=64),
        TEST_SIZE,
    )

    def _check(self) -> None:
        _check_test_size(self)

    def distinct_samples(self) -> int:
        """Ordered choices of k distinct keys, their values, and which one is queried, over k = 1..N."""
        total, arrangements = 0, 1
        for k in range(1, self.n + 1):
            arrangements *= (self.n - k + 1) * (HALF - 1)
            total += arrangements * k
        return total

    @property
    def vocab_size(self) -> int:
        return 2 * HALF

    @property
    def length(self) -> int:
        return 2 * self.n + 3

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def query_base(self) -> int:
        return self.n + HALF

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        big_n = self.n
        pairs = rng.integers(1, big_n + 1, size=n)
        keys = np.argsort(rng.random((n, big_n)), axis=1)  # a random order of all keys; the first `pairs` are used
        values = rng.integers(1, HALF, size=(n, big_n))
        pick = rng.integers(0, pairs)
        rows = np.arange(n)
        body = np.empty((n, 2 * big_n), dtype=np.int64)
        body[:, 0::2], body[:, 1::2] = keys + HALF, values
        ids = np.zeros((n, self.length), dtype=np.int64)
        ids[:, : 2 * big_n] = np.where(np.arange(2 * big_n)[None, :] < 2 * pairs[:, None], body, 0)
        ids[rows, 2 * pairs] = keys[rows, pick] + self.query_base
        ids[rows, 2 * pairs + 1] = values[rows, pick]
        mask = np.zeros((n, self.length), dtype=bool)
        mask[rows, 2 * pairs] = True
        return ids, mask

    def verify(self, input_ids: np.ndarray) -> np.ndarray:
        """Pairs well formed with distinct keys, the query one of them, its value after it, then only padding."""
        ids = np.asarray(input_ids)
        if ids.ndim != 2 or ids.shape[1] != self.length:
            return np.zeros(len(ids), dtype=bool)
        ids = ids.astype(np.int64)
        n, big_n = len(ids), self.n
        rows, cols = np.arange(n), np.arange(self.length)[None, :]
        is_query = ids >= self.query_base
        at = is_query.argmax(axis=1)  # position of the query = 2 * pairs
        ok = is_query.any(axis=1) & (at % 2 == 0) & (at >= 2) & (at <= 2 * big_n)
        at = np.clip(at, 2, 2 * big_n)
        query = ids[rows, at]
        ok &= query < self.query_base + big_n
        before = cols < at[:, None]
        is_key = (ids >= HALF) & (ids < HALF + big_n)
        is_value = (ids >= 1) & (ids < HALF)
        ok &= np.where(before, np.where(cols % 2 == 0, is_key, is_value), True).all(axis=1)
        ok &= np.where(cols > at[:, None] + 1, ids == 0, True).all(axis=1)
        key_cols = ids[:, 0 : 2 * big_n : 2]
        used = np.arange(big_n)[None, :] < (at // 2)[:, None]
        tagged = np.sort(np.where(used, key_cols, -1 - np.arange(big_n)[None, :]), axis=1)
        ok &= (np.diff(tagged, axis=1) != 0).all(axis=1)  # distinct keys (unused slots get distinct negatives)
        match = used & (key_cols == (query - big_n)[:, None])
        value = ids[rows, 2 * match.argmax(axis=1) + 1]
        return ok & match.any(axis=1) & (ids[rows, at + 1] == value)

    def error_groups(self, input_ids: np.ndarray) -> dict[str, Grouping]:
        """By how many pairs the haystack holds, and by the place of the queried pair in it."""
        ids = np.asarray(input_ids).astype(np.int64)
        key_slots = ids[:, : 2 * self.n : 2]
        pairs = ((key_slots >= HALF) & (key_slots < HALF + self.n)).sum(1)  # query tokens start at HALF + n
        queried_key = ids[np.arange(len(ids)), 2 * pairs] - self.n
        place = (key_slots == queried_key[:, None]).argmax(1) + 1
        return {
            "pairs in the sample": equal_bins(pairs, 1, self.n),
            "place of the queried pair (1 = first)": equal_bins(place, 1, self.n),
        }

    def metric_masks(self, input_ids: np.ndarray) -> dict[str, np.ndarray]:
        """The published metric: the position whose current token is the query (it predicts the value)."""
        mask = np.asarray(input_ids) >= self.query_base
        mask[:, -1] = False
        return {"published": mask}

    def decode_token(self, token: int) -> str:
        if token == 0:
            return "PAD"
        if token < HALF:
            return f"v{token}"
        if token < self.query_base:
            return f"k{token - HALF}"
        if token < self.query_base + self.n:
            return f"q{token - self.query_base}"
        return f"<{token}>"


# -- sorting (not released) -------------------------------------------------------------
@register
class Sorting(Task):
    """Sort numbers (not released; designed in the style of the arithmetic tasks).

    Layout (`N` = `n`, `V` = `vocab`): N numbers uniform in 0..V-1 written as
    themselves, `SEP = V`, the sorted numbers written `value+V+1` (output tokens
    distinct from input tokens, like the arithmetic `d+20`), `STOP = 2V+1`; 2N+2
    tokens, no padding (`PAD = 2V+2` exists only for mixtures that pad to a
    longer length); vocabulary 2V+3. The loss scores every sorted number and
    stop. The published-style metric, as for arithmetic, scores positions whose
    current token is an output token or stop (>= V+1): every sorted number but
    the first, and stop.

    Example (N=3, V=64): `9 2 9 SEP [2 9 9 STOP]` = tokens `9 2 9 64 67 74 74 129`.
    """

    shuffle_control = False

    name = "sorting"
    description = "N numbers 0..V-1, SEP=V, the sorted numbers as value+V+1, STOP=2V+1"
    ID_PARAMS: ClassVar[tuple[str, ...]] = ("n",)
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("n", 10, "how many numbers N to sort", low=1, high=100_000),
        Param("vocab", 64, "numbers are 0..V-1 (outputs V+1..2V, SEP=V, STOP=2V+1, PAD=2V+2)", low=2, high=2**28),
        TEST_SIZE,
    )

    def _check(self) -> None:
        _check_test_size(self)

    def distinct_samples(self) -> int:
        """Every input sequence (the answer follows from it)."""
        return self.vocab**self.n

    @property
    def sep_id(self) -> int:
        return self.vocab

    @property
    def stop_id(self) -> int:
        return 2 * self.vocab + 1

    @property
    def pad_id(self) -> int:
        return 2 * self.vocab + 2

    @property
    def vocab_size(self) -> int:
        return 2 * self.vocab + 3

    @property
    def length(self) -> int:
        return 2 * self.n + 2

    def _assemble(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        return np.concatenate(
            [x, np.full((n, 1), self.sep_id), np.sort(x, axis=1) + self.vocab + 1, np.full((n, 1), self.stop_id)],
            axis=1,
        )

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        ids = self._assemble(rng.integers(0, self.vocab, size=(n, self.n), dtype=np.int64))
        mask = np.zeros((n, self.length), dtype=bool)
        mask[:, self.n : 2 * self.n + 1] = True  # SEP predicts the first output, the last output predicts STOP
        return ids, mask

    def verify(self, input_ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(input_ids)
        if ids.ndim != 2 or ids.shape[1] != self.length:
            return np.zeros(len(ids), dtype=bool)
        x = ids[:, : self.n].astype(np.int64)
        ok = ((x >= 0) & (x < self.vocab)).all(axis=1)
        return ok & (self._assemble(np.clip(x, 0, self.vocab - 1)) == ids).all(axis=1)

    def metric_masks(self, input_ids: np.ndarray) -> dict[str, np.ndarray]:
        """Published-style metric: positions whose current token is an output number or STOP (never the first)."""
        ids = np.asarray(input_ids)
        mask = (ids > self.sep_id) & (ids <= self.stop_id)
        mask[:, -1] = False
        return {"published": mask}

    def decode_token(self, token: int) -> str:
        v = self.vocab
        if 0 <= token < v:
            return str(token)
        if v < token <= 2 * v:
            return str(token - v - 1)
        return {v: "SEP", 2 * v + 1: "STOP", 2 * v + 2: "PAD"}.get(token, f"<{token}>")
