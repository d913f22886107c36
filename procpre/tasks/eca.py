"""Elementary cellular automata: a random row of bits, then `steps` rows computed by a Wolfram rule.

Layout: `row_0 SEP row_1 SEP ... SEP row_steps`, each row `width` cells (tokens
`0`/`1`), `SEP = 2`, `PAD = 3` (never generated), vocabulary 4, total
`width * (steps + 1) + steps` tokens. Boundaries are periodic and rule numbering
is Wolfram's: cell `i` becomes bit `4*left + 2*centre + right` of `rule`. The
initial row is uniform random bits and is not scored; every cell of rows
`1..steps` is (not the separators, which sit at fixed places).

>>> import numpy as np
>>> from procpre.tasks import get_task
>>> task = get_task("eca", width=6, steps=2)
>>> task.decode(task.sample(np.random.default_rng(0), 1).input_ids[0])
'# # # . . . | # . # . . # | # # # . # #'
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from procpre.tasks.base import Param, Task
from procpre.tasks.registry import register

SEP = 2
PAD = 3


@register
class ECA(Task):
    """Rows of an elementary cellular automaton, each computed from the previous one.

    Example (rule 110, width 6, 2 steps): `# # # . . . | [# . # . . #] | [# # # . # #]`
    """

    name = "eca"
    description = "elementary cellular automaton rows (0/1 cells, SEP between rows, periodic boundary)"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("rule", 110, "Wolfram rule number", low=0, high=255),
        Param("width", 32, "cells per row", low=3, high=1_000_000),
        Param("steps", 16, "rows computed after the random initial row", low=1, high=1_000_000),
    )

    @property
    def pad_id(self) -> int:
        return PAD

    @property
    def vocab_size(self) -> int:
        return 4

    @property
    def length(self) -> int:
        return self.width * (self.steps + 1) + self.steps

    def step(self, row: np.ndarray) -> np.ndarray:
        """The next row of each row in `row` [n, width] (periodic boundary)."""
        table = (self.rule >> np.arange(8)) & 1
        index = 4 * np.roll(row, 1, axis=1) + 2 * row + np.roll(row, -1, axis=1)
        return table[index].astype(row.dtype)

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        grid = np.full((n, self.steps + 1, self.width + 1), SEP, dtype=np.int32)
        grid[:, 0, : self.width] = rng.integers(0, 2, size=(n, self.width), dtype=np.int32)
        for t in range(1, self.steps + 1):
            grid[:, t, : self.width] = self.step(grid[:, t - 1, : self.width])
        ids = grid.reshape(n, (self.steps + 1) * (self.width + 1))[:, : self.length]
        return np.ascontiguousarray(ids), self.loss_mask(n)

    def loss_mask(self, n: int) -> np.ndarray:
        """Score position `i` when token `i+1` is a cell of rows 1..steps."""
        cell = np.zeros((self.steps + 1, self.width + 1), dtype=bool)
        cell[1:, : self.width] = True
        target = cell.reshape(-1)[: self.length]
        mask = np.zeros(self.length, dtype=bool)
        mask[:-1] = target[1:]
        return np.broadcast_to(mask, (n, self.length)).copy()

    def verify(self, input_ids: np.ndarray) -> np.ndarray:
        input_ids = np.asarray(input_ids)
        n = len(input_ids)
        if input_ids.ndim != 2 or input_ids.shape[1] != self.length:
            return np.zeros(n, dtype=bool)
        padded = np.concatenate([input_ids, np.full((n, 1), SEP, input_ids.dtype)], axis=1)
        grid = padded.reshape(n, self.steps + 1, self.width + 1).astype(np.int64)
        cells = grid[:, :, : self.width]
        ok = (grid[:, :, self.width] == SEP).all(axis=1) & ((cells == 0) | (cells == 1)).all(axis=(1, 2))
        for t in range(1, self.steps + 1):
            ok &= (cells[:, t] == self.step(np.clip(cells[:, t - 1], 0, 1))).all(axis=1)
        return ok

    def decode_token(self, token: int) -> str:
        return {0: ".", 1: "#", SEP: "|", PAD: "PAD"}.get(token, f"<{token}?>")
