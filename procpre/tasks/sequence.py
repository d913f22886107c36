"""Sequence-transformation tasks: a prompt of random tokens, a separator, the transformed answer.

Shared layout (`V` = `vocab_size`, `L` = `seq_length`): content tokens are uniform
in `1 .. V-1`, `SEP = V`, `PAD = V+1`, model vocabulary `V+2`. The loss mask scores
the answer's real tokens; for the padded tasks (set, union, delete) `score_end=true`
also scores the first padding token after a short answer, so the model learns where
its answer ends (off reproduces the published loss).

>>> from procpre.tasks import get_task
>>> task = get_task("sort", seq_length=4, vocab_size=10)
>>> import numpy as np
>>> task.decode(task.sample(np.random.default_rng(0), 1).input_ids[0])
'8 6 5 3 SEP 3 5 6 8'
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from procpre.tasks.base import Param, Task, TaskError
from procpre.tasks.kernels import unique_first_occurrence
from procpre.tasks.registry import register

SEQ_LENGTH = Param("seq_length", 64, "content length L of the prompt", low=1, high=1_000_000)
VOCAB_SIZE = Param("vocab_size", 100, "content vocabulary V (tokens 1..V-1; SEP=V, PAD=V+1)", low=3, high=2**30)
SCORE_END = Param("score_end", False, "also score the first PAD after a short answer (off = published loss)")


class SequenceTask(Task):
    """`prompt parts joined by SEP, SEP, answer`: subclasses say how long the parts are and what the answer is."""

    PARAMS: ClassVar[tuple[Param, ...]] = (SEQ_LENGTH, VOCAB_SIZE)
    #: whether the prompt and answer are separated by SEP (ww has no separator)
    separated: ClassVar[bool] = True
    #: whether the answer can be shorter than its slot (then it is padded)
    padded_answer: ClassVar[bool] = False

    @property
    def sep_id(self) -> int:
        return self.vocab_size_content

    @property
    def vocab_size_content(self) -> int:
        return int(self.params["vocab_size"])

    @property
    def pad_id(self) -> int:
        return self.vocab_size_content + 1

    @property
    def vocab_size(self) -> int:
        return self.vocab_size_content + 2

    def prompt_lengths(self) -> tuple[int, ...]:
        return (self.seq_length,)

    @property
    def answer_length(self) -> int:
        return self.seq_length

    @property
    def answer_start(self) -> int:
        """Index of the first answer token."""
        parts = self.prompt_lengths()
        return sum(parts) + (len(parts) if self.separated else 0)

    @property
    def length(self) -> int:
        return self.answer_start + self.answer_length

    def answer(self, parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(answer [n, answer_length] right-padded with PAD, real length [n]) for the prompt parts."""
        raise NotImplementedError

    # -- generation --------------------------------------------------------------------
    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        lengths = self.prompt_lengths()
        content = rng.integers(1, self.vocab_size_content, size=(n, sum(lengths)), dtype=np.int32)
        parts = np.split(content, np.cumsum(lengths)[:-1], axis=1)
        answer, count = self.answer(parts)
        ids = self._assemble(parts, answer)
        return ids, self.loss_mask(count)

    def _assemble(self, parts: list[np.ndarray], answer: np.ndarray) -> np.ndarray:
        n = answer.shape[0]
        sep = np.full((n, 1), self.sep_id, dtype=np.int32)
        pieces: list[np.ndarray] = []
        for part in parts:
            pieces.append(part)
            if self.separated:
                pieces.append(sep)
        pieces.append(answer.astype(np.int32, copy=False))
        return np.concatenate(pieces, axis=1)

    def loss_mask(self, count: np.ndarray) -> np.ndarray:
        """Score predicting each real answer token (and the end marker with score_end)."""
        offsets = np.arange(self.answer_length)[None, :]
        scored = offsets < count[:, None]
        if self.params.get("score_end", False):
            scored |= offsets == count[:, None]
        mask = np.zeros((len(count), self.length), dtype=bool)
        mask[:, self.answer_start - 1 : self.length - 1] = scored
        return mask

    # -- checking ----------------------------------------------------------------------
    def split_prompt(self, input_ids: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """(prompt parts, separator columns, answer) of rows laid out by this task."""
        parts, seps, pos = [], [], 0
        for length in self.prompt_lengths():
            parts.append(input_ids[:, pos : pos + length])
            pos += length
            if self.separated:
                seps.append(input_ids[:, pos])
                pos += 1
        sep_cols = np.stack(seps, axis=1) if seps else np.zeros((len(input_ids), 0), input_ids.dtype)
        return parts, sep_cols, input_ids[:, pos:]

    def verify(self, input_ids: np.ndarray) -> np.ndarray:
        input_ids = np.asarray(input_ids)
        if input_ids.ndim != 2 or input_ids.shape[1] != self.length:
            return np.zeros(len(input_ids), dtype=bool)
        parts, seps, answer = self.split_prompt(input_ids)
        prompt = np.concatenate(parts, axis=1)
        ok = ((prompt >= 1) & (prompt < self.vocab_size_content)).all(axis=1)
        ok &= (seps == self.sep_id).all(axis=1)
        expected, _ = self.answer([p.astype(np.int64) for p in parts])
        return ok & (answer == expected).all(axis=1)

    def decode_token(self, token: int) -> str:
        if token == self.sep_id:
            return "SEP"
        if token == self.pad_id:
            return "PAD"
        return str(token)


@register
class Identity(SequenceTask):
    """Copy the prompt: `x SEP x`.

    Example (L=3): `4 7 4 SEP [4 7 4]`
    """

    name = "identity"
    description = "copy the input after SEP"

    def answer(self, parts):
        (x,) = parts
        return x.copy(), np.full(len(x), x.shape[1])


@register
class Reverse(SequenceTask):
    """Reverse the prompt: `x SEP reversed(x)`. Example (L=3): `4 7 1 SEP [1 7 4]`."""

    name = "reverse"
    description = "the input reversed after SEP"

    def answer(self, parts):
        (x,) = parts
        return x[:, ::-1].copy(), np.full(len(x), x.shape[1])


@register
class Sort(SequenceTask):
    """Sort ascending: `x SEP sorted(x)`. Example (L=3): `4 7 1 SEP [1 4 7]`."""

    name = "sort"
    description = "the input sorted ascending after SEP"

    def answer(self, parts):
        (x,) = parts
        return np.sort(x, axis=1), np.full(len(x), x.shape[1])


@register
class Set(SequenceTask):
    """Distinct tokens in first-occurrence order: `x SEP unique(x) PAD..`.

    Example (L=4): `4 7 4 2 SEP [4 7 2] PAD`
    """

    name = "set"
    description = "the distinct input tokens in first-occurrence order, padded"
    padded_answer = True
    PARAMS = (SEQ_LENGTH, VOCAB_SIZE, SCORE_END)

    def answer(self, parts):
        (x,) = parts
        return unique_first_occurrence(x, self.pad_id)


@register
class Union(SequenceTask):
    """Union of two halves: `a SEP b SEP unique(a+b) PAD..`, `a`, `b` of length L/2.

    Example (L=4): `4 7 SEP 7 2 SEP [4 7 2] PAD`
    """

    name = "union"
    description = "distinct tokens of a then b (halves of L), padded"
    padded_answer = True
    PARAMS = (SEQ_LENGTH, VOCAB_SIZE, SCORE_END)

    def _check(self) -> None:
        if self.seq_length % 2 or self.seq_length < 2:
            raise TaskError(f"union: parameter 'seq_length' must be even and >= 2 (two halves), got {self.seq_length}")

    def prompt_lengths(self) -> tuple[int, ...]:
        return (self.seq_length // 2, self.seq_length // 2)

    def answer(self, parts):
        a, b = parts
        return unique_first_occurrence(np.concatenate([a, b], axis=1), self.pad_id)


@register
class Delete(SequenceTask):
    """Delete the first occurrence of `d`: `x SEP d SEP x-without-first-d PAD`.

    Example (L=4): `4 7 4 2 SEP 4 SEP [7 4 2] PAD`; when `d` is absent the answer is `x`.
    """

    name = "delete"
    description = "the input with the first occurrence of d removed, padded"
    padded_answer = True
    PARAMS = (SEQ_LENGTH, VOCAB_SIZE, SCORE_END)

    def prompt_lengths(self) -> tuple[int, ...]:
        return (self.seq_length, 1)

    def answer(self, parts):
        x, d = parts
        n, length = x.shape
        hit = x == d
        present = hit.any(axis=1)
        pos = np.where(present, hit.argmax(axis=1), length)
        cols = np.arange(length - 1)[None, :]
        src = cols + (cols >= pos[:, None])
        out = np.full_like(x, self.pad_id)
        out[:, : length - 1] = np.take_along_axis(x, src, axis=1)
        out[~present, length - 1] = x[~present, length - 1]
        return out, np.where(present, length - 1, length)


@register
class WW(SequenceTask):
    """The copy language `ww`: a random string then its copy, no separator.

    Example (L=3): `4 7 1 [4 7 1]` (the first token of the copy is scored too).
    """

    name = "ww"
    description = "a random string followed by its copy (no separator)"
    separated = False

    def answer(self, parts):
        (x,) = parts
        return x.copy(), np.full(len(x), x.shape[1])
