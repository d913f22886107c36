"""A prepared text corpus (C4, CodeParrot, DeepMind Mathematics, local text) as a task read from disk.

`procpre.corpora.prepare_corpus` writes `[N, seq_length]` rows and their loss masks;
this task serves them through `Task.stored_block`, so the training loop, evaluation and
the downstream stage read a corpus exactly as they read a procedural task. Nothing is
generated: vocabulary, length and PAD come from the folder's `corpus.json`.

Splits: `train`; `validation` (the held-out slice; dm-math: interpolate); `test` (dm-math:
extrapolate, else the same as validation). Training block `b` holds rows `[b*B, (b+1)*B)`
of an endless stream: epoch 0 is the stored (already shuffled) order and each later epoch
a permutation seeded by (seed, epoch), so repeated data is reshuffled. Evaluation splits
never wrap: a block past their end is empty, so an evaluation reads at most the whole split.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from procpre.tasks.base import Block, Param, Task, TaskError
from procpre.tasks.registry import register


class PathParam(Param):
    """A folder path (shown as such by `procpre tasks`)."""

    def describe_range(self) -> str:
        return "path to a folder"


DATA_DIR = PathParam("data_dir", "", "folder written by procpre.corpora.prepare_corpus (holds corpus.json)")


@register
class CorpusTask(Task):
    name = "corpus"
    description = "a prepared text corpus (C4, CodeParrot, DM-Math, local text) read from disk; see procpre.corpora"
    kind = "language"
    #: no token-shuffling control option: stored rows never pass through `sample`
    shuffle_control = False
    PARAMS: ClassVar[tuple[Param, ...]] = (DATA_DIR,)
    #: rows can be long (2 048 tokens for C4): 256 rows keep a block a few MiB
    block_size = 256

    def _check(self) -> None:
        from procpre.corpora import CorpusError, read_corpus_meta

        if not self.data_dir:
            raise TaskError("corpus: parameter 'data_dir' is required: a folder made by procpre.corpora.prepare_corpus")
        try:
            self.meta: dict[str, Any] = read_corpus_meta(self.data_dir)
        except CorpusError as err:
            raise TaskError(f"corpus: {err}") from None
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._tokenizer: Any = None

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def length(self) -> int:
        return int(self.meta["seq_length"])

    @property
    def pad_id(self) -> int:
        return int(self.meta["pad_id"])

    @property
    def eval_splits(self) -> dict[str, str]:
        """Metric-name prefix -> split scored by the downstream stage (dm-math: interpolate and extrapolate)."""
        if self.meta["layout"] == "question_answer":
            return {f"{self.meta['split_map'][s]}_": s for s in ("validation", "test")}
        return {"": "test"}

    def split_rows(self, split: str) -> int:
        return len(self.arrays(split)[0])

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, loss_mask) of a split, memory-mapped on first use."""
        folder = self.meta["split_map"].get(split)
        if folder is None:
            raise TaskError(f"corpus: unknown split {split!r}; choose one of {', '.join(self.meta['split_map'])}")
        if folder not in self._arrays:
            base = Path(self.data_dir).expanduser() / folder
            try:
                self._arrays[folder] = (
                    np.load(base / "input_ids.npy", mmap_mode="r"),
                    np.load(base / "loss_mask.npy", mmap_mode="r"),
                )
            except FileNotFoundError as err:
                raise TaskError(f"corpus: {self.data_dir} lacks {err.filename}; prepare the corpus again") from None
        return self._arrays[folder]

    # -- data ----------------------------------------------------------------------------
    def stored_block(self, seed: int, split: str, block: int) -> Block:
        ids, mask = self.arrays(split)
        if block < 0:
            raise TaskError(f"corpus: block index must be >= 0, got {block}")
        lo, hi = block * self.block_size, (block + 1) * self.block_size
        if split == "train":
            rows: np.ndarray | slice = _train_rows(seed, lo, hi, len(ids))
        else:
            rows = slice(min(lo, len(ids)), min(hi, len(ids)))
        out_ids = np.array(ids[rows], dtype=np.int32)  # a copy: blocks are writable and outlive the map
        return Block(out_ids, np.array(mask[rows], dtype=bool), np.full(len(out_ids), self.name))

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n:
            raise TaskError("corpus: samples are read from the prepared files (stored_block), never generated")
        return np.zeros((0, self.length), np.int32), np.zeros((0, self.length), bool)

    # -- checking and reading ------------------------------------------------------------
    def verify(self, input_ids: np.ndarray) -> np.ndarray:
        """Rows of the right length, every id inside the vocabulary, and not all padding."""
        input_ids = np.asarray(input_ids)
        if input_ids.ndim != 2 or input_ids.shape[1] != self.length:
            return np.zeros(len(input_ids), bool)
        in_range = ((input_ids >= 0) & (input_ids < self.vocab_size)).all(axis=1)
        return in_range & (input_ids != self.pad_id).any(axis=1)

    def decode_token(self, token: int) -> str:
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer()
        if self._tokenizer is False:
            return str(token)
        return self._tokenizer.token_text(int(token))

    def _load_tokenizer(self) -> Any:
        from procpre.corpora import saved_tokenizer

        try:
            return saved_tokenizer(Path(self.data_dir).expanduser() / self.meta["tokenizer"]["folder"])
        except Exception:  # decoding is a convenience: fall back to plain ids
            return False


def _train_rows(seed: int, lo: int, hi: int, n: int) -> np.ndarray | slice:
    """Stream rows `[lo, hi)` -> stored rows: epoch 0 in stored order, epoch e >= 1 through its own permutation."""
    if hi <= n:
        return slice(lo, hi)
    index = np.arange(lo, hi)
    epoch, position = np.divmod(index, n)
    rows = position.copy()
    for e in np.unique(epoch[epoch > 0]).tolist():
        chosen = epoch == e
        rows[chosen] = _permutation(seed, e, n)[position[chosen]]
    return rows


@lru_cache(maxsize=4)
def _permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(b"corpus"), epoch])).permutation(n)
