"""Compiled inner loops for the tasks whose rule is sequential (numba, cached on disk).

Every kernel is deterministic: randomness is drawn by the caller from the block's
numpy Generator and passed in as arrays, so a sample never depends on numba's RNG.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def unique_first_occurrence(x: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: distinct tokens of `x` in first-occurrence order, right-padded with `pad`; and their count."""
    n, length = x.shape
    out = np.full((n, length), pad, dtype=x.dtype)
    count = np.zeros(n, dtype=np.int64)
    stamp = np.zeros(int(x.max()) + 1 if x.size else 1, dtype=np.int64)
    for i in range(n):
        c = 0
        for j in range(length):
            token = x[i, j]
            if stamp[token] != i + 1:
                stamp[token] = i + 1
                out[i, c] = token
                c += 1
        count[i] = c
    return out, count
