"""The stack task: replay push/pop operations and write out the final stack.

Layout (`V` = `vocab_size`, `L` = `seq_length`): `ops SEP stack PAD..`, `2L` tokens.
`ops` holds `L` operations: a push of a token `1..V-1` that is not on the stack,
or `POP = 0`. After `SEP = V` comes the final stack from top to bottom, then
`PAD = V+1`; the model vocabulary is `V+2`. The final stack is scored (and, with
`score_end=true`, the first PAD after it).

Policy (as published): while the stack holds at most one token, push; otherwise
push with probability 0.75 during the first two thirds of the steps (`t < 2L/3`)
and pop with probability 0.75 after; on the last step pop if more than one token
is held; if no token is free, pop. So the final stack is never empty, and holds at
most `L-1` tokens once `L >= 3`.

>>> import numpy as np
>>> from procpre.tasks import get_task
>>> task = get_task("stack", seq_length=6, vocab_size=10)
>>> block = task.sample(np.random.default_rng(0), 1)
>>> task.decode(block.input_ids[0], block.loss_mask[0])
'6 7 4 9 8 POP SEP [9] [4] [7] [6] PAD'
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from procpre.tasks.base import Param, Task
from procpre.tasks.kernels import stack_samples, stack_verify
from procpre.tasks.registry import register

POP = 0


@register
class Stack(Task):
    """Final contents of a stack after random pushes and pops.

    Example (L=6, V=10): `6 7 4 9 8 POP SEP [9 4 7 6] PAD`
    """

    name = "stack"
    description = "replay pushes/pops (POP=0) and write the final stack top to bottom, padded"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("seq_length", 64, "number L of operations (the final stack fits L-1 slots)", low=3, high=1_000_000),
        Param("vocab_size", 100, "content vocabulary V (tokens 1..V-1, POP=0, SEP=V, PAD=V+1)", low=3, high=2**30),
        Param("score_end", False, "also score the first PAD after the stack (off = published loss)"),
    )

    @property
    def sep_id(self) -> int:
        return int(self.params["vocab_size"])

    @property
    def pad_id(self) -> int:
        return self.sep_id + 1

    @property
    def vocab_size(self) -> int:
        return self.sep_id + 2

    @property
    def length(self) -> int:
        return 2 * self.seq_length

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        coin = rng.random((n, self.seq_length))
        pick = rng.random((n, self.seq_length))
        ids, heights = stack_samples(coin, pick, self.sep_id, self.pad_id)
        return ids, self.loss_mask(heights)

    def loss_mask(self, heights: np.ndarray) -> np.ndarray:
        """Score predicting each final-stack token (and the first PAD with score_end)."""
        offsets = np.arange(self.seq_length - 1)[None, :]
        scored = offsets < heights[:, None]
        if self.score_end:
            scored |= offsets == heights[:, None]
        mask = np.zeros((len(heights), self.length), dtype=bool)
        mask[:, self.seq_length : self.length - 1] = scored
        return mask

    def verify(self, input_ids: np.ndarray) -> np.ndarray:
        """Replay the ops: legal pushes and pops, then SEP, the true final stack and PAD.

        The generation policy itself (push/pop probabilities) is not checked.
        """
        input_ids = np.asarray(input_ids)
        if input_ids.ndim != 2 or input_ids.shape[1] != self.length:
            return np.zeros(len(input_ids), dtype=bool)
        return stack_verify(input_ids.astype(np.int64), self.seq_length, self.sep_id, self.pad_id)

    def decode_token(self, token: int) -> str:
        if token == POP:
            return "POP"
        if token == self.sep_id:
            return "SEP"
        if token == self.pad_id:
            return "PAD"
        return str(token)
