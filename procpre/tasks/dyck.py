"""Formal languages: k-Dyck (nested brackets) and k-Dyck shuffle (each type balanced, pairs may cross).

Tokens: `0..k-1` open a bracket of type `t`, `k..2k-1` close it, `PAD = 2k`
(never generated; it keeps the layout of the published release), vocabulary
`2k+1`. These are plain language-modelling tasks: every position is scored
except the last, which has no next token.

>>> import numpy as np
>>> from procpre.tasks import get_task
>>> task = get_task("dyck", k=2, seq_length=8)
>>> task.decode(task.sample(np.random.default_rng(0), 1).input_ids[0])
'[ ] [ [ [ ] ] ]'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np

from procpre.tasks.base import Param, Task, TaskError
from procpre.tasks.kernels import dyck_fill, dyck_shuffle_fill, dyck_shuffle_verify, dyck_verify
from procpre.tasks.registry import register

K = Param("k", 64, "number of bracket types (open 0..k-1, close k..2k-1, PAD=2k)", low=1, high=2**20)
P_OPEN = Param("p_open", 0.5, "probability of opening when both opening and closing are allowed", low=0.0, high=1.0)
OPENS = "([{<"
#: rows drawn and generated together: their draws stay in cache (the samples do not depend on it)
CHUNK = 32
#: a kernel filling rows `out` from raw draws: (raw, out) -> None
Filler = Callable[[np.ndarray, np.ndarray], None]
CLOSES = ")]}>"


class DyckTask(Task):
    """Shared layout, loss mask and decoding of the bracket languages."""

    kind = "language"
    #: long sequences: 256 x 2048 tokens per block keeps a block a few MiB
    block_size = 256

    def _check(self) -> None:
        if not 0.0 < self.p_open < 1.0:
            raise TaskError(f"{self.name}: parameter 'p_open' must be in the open interval (0, 1), got {self.p_open}")

    @property
    def pad_id(self) -> int:
        return 2 * self.k

    @property
    def vocab_size(self) -> int:
        return 2 * self.k + 1

    @property
    def length(self) -> int:
        return self.seq_length

    def fill_rows(self, rng: np.random.Generator, n: int, draws_per_row: int, fill: Filler) -> np.ndarray:
        """Samples from `draws_per_row` raw 64-bit draws each, drawn and filled a few rows at a time.

        Full-range draws come off the generator one after another, so chunking changes
        nothing in the samples; it keeps the draws in cache while the kernel reads them.
        """
        ids = np.empty((n, self.seq_length), dtype=np.int32)
        for start in range(0, n, CHUNK):
            raw = rng.integers(0, 2**64, size=(min(CHUNK, n - start), draws_per_row), dtype=np.uint64)
            fill(raw, ids[start : start + len(raw)])
        return ids

    @property
    def threshold(self) -> int:
        """p_open on the 32-bit scale the kernels compare against (at least 1: they divide by it)."""
        return max(1, round(self.p_open * 2**32))

    def loss_mask(self, n: int) -> np.ndarray:
        mask = np.ones((n, self.length), dtype=bool)
        mask[:, -1] = False
        return mask

    def _checked_rows(self, input_ids: np.ndarray) -> np.ndarray | None:
        input_ids = np.asarray(input_ids)
        if input_ids.ndim != 2 or input_ids.shape[1] != self.length:
            return None
        return input_ids.astype(np.int64)

    def decode_token(self, token: int) -> str:
        k = self.k
        if 0 <= token < k:
            return OPENS[token] if token < len(OPENS) else f"({token}"
        if k <= token < 2 * k:
            kind = token - k
            return CLOSES[kind] if kind < len(CLOSES) else f"{kind})"
        if token == self.pad_id:
            return "PAD"
        return f"<{token}?>"


@register
class Dyck(DyckTask):
    """Balanced, properly nested brackets of `k` types, exactly `seq_length` tokens.

    Left to right: empty stack -> open a random type; when the remaining length only
    fits the closes -> close; otherwise open with probability `p_open` else close the top.
    Example (k=2, L=8): `[ ] [ [ [ ] ] ]`, every next token scored.
    """

    name = "dyck"
    description = "k-Dyck: balanced, properly nested brackets of k types"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        K,
        Param("seq_length", 2048, "tokens per sample (even)", low=2, high=2**24),
        P_OPEN,
    )

    def _check(self) -> None:
        super()._check()
        if self.seq_length % 2:
            raise TaskError(f"dyck: parameter 'seq_length' must be even and >= 2, got {self.seq_length}")

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        # 32 bits per token: drawing them is half the cost here, so half the draws of dyck_shuffle
        k, threshold = self.k, self.threshold
        ids = self.fill_rows(rng, n, self.seq_length // 2, lambda raw, out: dyck_fill(raw, out, k, threshold))
        return ids, self.loss_mask(n)

    def verify(self, input_ids: np.ndarray) -> np.ndarray:
        rows = self._checked_rows(input_ids)
        return np.zeros(len(input_ids), bool) if rows is None else dyck_verify(rows, self.k)


@register
class DyckShuffle(DyckTask):
    """Brackets of `k` types, each balanced on its own; pairs may cross and the tail may stay open.

    Depth 0 -> open a random type; depth >= `max_depth` -> close a random open type;
    otherwise open with probability `p_open` else close a random open type.
    Example (k=2, L=8): `( ( [ ] ( ( ) (`.
    """

    name = "dyck_shuffle"
    description = "k-Dyck shuffle: every type balanced on its own, pairs may cross"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        K,
        Param("seq_length", 2048, "tokens per sample", low=1, high=2**24),
        P_OPEN,
        Param("max_depth", 16, "open brackets at which the next token must close one", low=1, high=2**24),
    )

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        k, threshold, depth = self.k, self.threshold, self.max_depth
        ids = self.fill_rows(rng, n, self.seq_length, lambda raw, out: dyck_shuffle_fill(raw, out, k, threshold, depth))
        return ids, self.loss_mask(n)

    def verify(self, input_ids: np.ndarray) -> np.ndarray:
        rows = self._checked_rows(input_ids)
        return np.zeros(len(input_ids), bool) if rows is None else dyck_shuffle_verify(rows, self.k)
