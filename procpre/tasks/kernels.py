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


# -- stack ------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _nth_free(ordered: np.ndarray, height: int, j: int) -> int:
    """The `j`-th (0-based) token of 1, 2, ... not in `ordered[:height]` (sorted ascending)."""
    token = j + 1
    pos = 0
    while pos < height and ordered[pos] <= token:
        token += 1
        pos += 1
    return token


@numba.njit(cache=True, nogil=True)
def _insert_sorted(ordered: np.ndarray, height: int, token: int) -> None:
    pos = height
    while pos > 0 and ordered[pos - 1] > token:
        ordered[pos] = ordered[pos - 1]
        pos -= 1
    ordered[pos] = token


@numba.njit(cache=True, nogil=True)
def _remove_sorted(ordered: np.ndarray, height: int, token: int) -> None:
    pos = 0
    while ordered[pos] != token:
        pos += 1
    for q in range(pos, height - 1):
        ordered[q] = ordered[q + 1]


@numba.njit(cache=True, nogil=True)
def _stack_wants_push(coin: float, height: int, free: int, step: int, steps: int) -> bool:
    """The published policy for one step (see procpre.tasks.stack)."""
    if height <= 1:
        return True
    if step == steps - 1 or free == 0:
        return False
    if 3 * step < 2 * steps:  # first two thirds: push with probability 0.75
        return coin < 0.75
    return coin >= 0.75  # afterwards: pop with probability 0.75


@numba.njit(cache=True, nogil=True)
def stack_samples(coin: np.ndarray, pick: np.ndarray, vocab: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack samples `ops SEP final-stack(top first) PAD..` from uniforms `coin`, `pick` [n, L]; and the final heights.

    A push takes the `floor(pick * free)`-th free token in ascending order (POP = 0, SEP = `vocab`).
    """
    n, steps = coin.shape
    ids = np.full((n, 2 * steps), pad, dtype=np.int32)
    heights = np.zeros(n, dtype=np.int64)
    stack = np.empty(steps + 1, dtype=np.int64)  # bottom .. top
    ordered = np.empty(steps + 1, dtype=np.int64)  # the same tokens, ascending
    for i in range(n):
        height = 0
        for t in range(steps):
            free = vocab - 1 - height
            if _stack_wants_push(coin[i, t], height, free, t, steps):
                j = min(int(pick[i, t] * free), free - 1)
                token = _nth_free(ordered, height, j)
                _insert_sorted(ordered, height, token)
                stack[height] = token
                height += 1
                ids[i, t] = token
            else:
                height -= 1
                _remove_sorted(ordered, height + 1, stack[height])
                ids[i, t] = 0
        ids[i, steps] = vocab
        for q in range(height):
            ids[i, steps + 1 + q] = stack[height - 1 - q]
        heights[i] = height
    return ids, heights


@numba.njit(cache=True, nogil=True)
def stack_verify(ids: np.ndarray, steps: int, vocab: int, pad: int) -> np.ndarray:
    """Replay each row's ops: pushes of absent tokens, pops of a non-empty stack, then SEP, the stack, PAD."""
    n, length = ids.shape
    ok = np.zeros(n, dtype=np.bool_)
    stack = np.empty(steps + 1, dtype=np.int64)
    for i in range(n):
        height = 0
        good = True
        for t in range(steps):
            token = ids[i, t]
            if token == 0:
                if height == 0:
                    good = False
                    break
                height -= 1
            elif 1 <= token < vocab:
                for q in range(height):
                    if stack[q] == token:
                        good = False
                if not good:
                    break
                stack[height] = token
                height += 1
            else:
                good = False
                break
        if not good or ids[i, steps] != vocab or steps + 1 + height > length:
            continue
        for q in range(height):
            if ids[i, steps + 1 + q] != stack[height - 1 - q]:
                good = False
        for q in range(steps + 1 + height, length):
            if ids[i, q] != pad:
                good = False
        ok[i] = good
    return ok


# -- Dyck languages ---------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _split_words(raw: np.ndarray, words: np.ndarray) -> None:
    """32-bit draws from 64-bit ones: the low half first (independent of byte order)."""
    low = np.uint64(0xFFFFFFFF)
    for j in range(words.size // 2):
        words[2 * j] = np.int64(raw[j] & low)
        words[2 * j + 1] = np.int64(raw[j] >> np.uint64(32))


@numba.njit(cache=True, nogil=True)
def _dyck_coins(words: np.ndarray, k: int, threshold: int, step: np.ndarray, kinds: np.ndarray) -> None:
    """The free choice of every token (a separate loop, so it compiles without branches).

    Open (+1) with probability p_open (`w < threshold`), of type `floor(w * k / threshold)`
    (uniform given `w < threshold`); else close (-1).
    """
    scale = k / threshold
    for j in range(words.size):
        w = words[j]
        step[j] = 2 * np.int32(w < threshold) - 1
        kinds[j] = min(np.int32(w * scale), k - 1)


@numba.njit(cache=True, nogil=True)
def _dyck_write(
    words: np.ndarray, step: np.ndarray, kinds: np.ndarray, k: int, stack: np.ndarray, out: np.ndarray
) -> None:
    """Walk the word: force an open at depth 0 (type from all 32 bits) and a close when only closes fit.

    `depth >= remaining - 1` is "only closes fit" because depth and position share parity.
    Forced moves are rare, so their branches predict well; the coin is applied with
    arithmetic, not branches, since nothing can predict it.
    """
    length = words.size
    depth = 0
    for j in range(length):
        move = step[j]
        kind = kinds[j]
        if depth == 0:
            move = 1
            kind = np.int32((words[j] * k) >> 32)
        elif depth >= length - j - 1:
            move = -1
        opening = (move + 1) >> 1
        closing = k + stack[depth]  # stack[1..depth]; stack[0] is a dummy top
        stack[depth + 1] = kind  # harmless above the top when closing
        out[j] = closing + opening * (kind - closing)
        depth += move


@numba.njit(cache=True, nogil=True)
def dyck_fill(raw: np.ndarray, out: np.ndarray, k: int, threshold: int) -> None:
    """Fill `out` [n, L] (L even) with balanced k-Dyck words from raw 64-bit draws [n, L // 2].

    Each draw gives two tokens 32 bits each, low half first (independent of byte order);
    `threshold = round(p_open * 2**32)`. Type bias of a chosen open is at most
    `k / threshold` (3e-8 at k=64, p_open=0.5), the price of one draw per token.
    """
    n, length = out.shape
    words = np.empty(length, dtype=np.int64)
    step = np.empty(length, dtype=np.int32)
    kinds = np.empty(length, dtype=np.int32)
    stack = np.zeros(length + 2, dtype=np.int32)
    for i in range(n):
        _split_words(raw[i], words)
        _dyck_coins(words, k, threshold, step, kinds)
        _dyck_write(words, step, kinds, k, stack, out[i])


@numba.njit(cache=True, nogil=True)
def dyck_verify(ids: np.ndarray, k: int) -> np.ndarray:
    """Whether each row is balanced and properly nested."""
    n, length = ids.shape
    ok = np.zeros(n, dtype=np.bool_)
    stack = np.empty(length + 1, dtype=np.int64)
    for i in range(n):
        depth = 0
        good = True
        for j in range(length):
            token = ids[i, j]
            if 0 <= token < k:
                stack[depth] = token
                depth += 1
            elif k <= token < 2 * k and depth > 0 and stack[depth - 1] == token - k:
                depth -= 1
            else:
                good = False
                break
        ok[i] = good and depth == 0
    return ok


@numba.njit(cache=True, nogil=True)
def dyck_shuffle_fill(raw: np.ndarray, out: np.ndarray, k: int, threshold: int, max_depth: int) -> None:
    """Fill `out` [n, L] with k-Dyck-shuffle words from raw 64-bit draws [n, L], one per token.

    The low 32 bits are the coin (open when `< threshold` = p_open * 2**32), the high
    32 bits pick uniformly by multiply-shift: the type of an open among all `k`, or the
    type of a close among the *types* currently open (kept in a swap-remove list).
    """
    n, length = out.shape
    count = np.zeros(k, dtype=np.int64)
    where = np.zeros(k, dtype=np.int64)  # index of an open type in `open_types`
    open_types = np.zeros(k, dtype=np.int64)
    for i in range(n):
        depth = 0
        m = 0  # number of distinct open types
        for j in range(length):
            x = raw[i, j]
            high = x >> np.uint64(32)
            coin = np.int64(x & np.uint64(0xFFFFFFFF))
            if depth == 0 or (depth < max_depth and coin < threshold):
                kind = np.int64((high * np.uint64(k)) >> np.uint64(32))
                if count[kind] == 0:
                    where[kind] = m
                    open_types[m] = kind
                    m += 1
                count[kind] += 1
                depth += 1
                out[i, j] = kind
            else:
                kind = open_types[np.int64((high * np.uint64(m)) >> np.uint64(32))]
                count[kind] -= 1
                if count[kind] == 0:
                    m -= 1
                    last = open_types[m]
                    open_types[where[kind]] = last
                    where[last] = where[kind]
                depth -= 1
                out[i, j] = k + kind
        for q in range(m):  # reset only what is open: O(depth), not O(k)
            count[open_types[q]] = 0


@numba.njit(cache=True, nogil=True)
def dyck_shuffle_verify(ids: np.ndarray, k: int) -> np.ndarray:
    """Whether each row only holds bracket tokens and no type ever closes more than it opened."""
    n, length = ids.shape
    ok = np.zeros(n, dtype=np.bool_)
    count = np.zeros(k, dtype=np.int64)
    for i in range(n):
        count[:] = 0
        good = True
        for j in range(length):
            token = ids[i, j]
            if 0 <= token < k:
                count[token] += 1
            elif k <= token < 2 * k and count[token - k] > 0:
                count[token - k] -= 1
            else:
                good = False
                break
        ok[i] = good
    return ok
