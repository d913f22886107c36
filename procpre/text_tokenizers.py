"""Tokenizers for the text corpora, behind one small interface (`TextTokenizer`).

Four kinds, chosen by a spec string:

- a Hub name or local folder (`gpt2`, `codeparrot/codeparrot`): `AutoTokenizer.from_pretrained`;
- `byte`: UTF-8 bytes `0..255`, EOS `256`, PAD `257`; needs no download, so it is the offline fallback;
- `bpe:N`: a byte-level BPE of vocabulary `N` trained here (`tokenizers`) on the corpus's training text;
- `char`: one id per character seen in the training text (DM-Math, as in the paper), then EOS, PAD, UNK.

Every tokenizer saves itself into a folder (`save`) that `load_tokenizer(folder)` reads back
offline, so a prepared corpus keeps the exact tokenizer that made it.
"""

from __future__ import annotations

import json
import os
import socket
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

#: the file that marks a folder written by `TextTokenizer.save`
SAVED = "procpre_tokenizer.json"
EOS_TEXT, PAD_TEXT = "<|endoftext|>", "<|pad|>"
OFFLINE_HINT = (
    "offline, use tokenizer 'byte' (no download), 'bpe:N' (trained on the corpus) or 'char', "
    "or a local tokenizer folder"
)


class CorpusError(ValueError):
    """A corpus, path or tokenizer cannot be used; the message says what to change."""


class TextTokenizer:
    """What corpus preparation needs from a tokenizer: ids in, ids out, EOS/PAD ids and a vocabulary size."""

    spec: str
    vocab_size: int
    eos_id: int
    pad_id: int

    def encode(self, text: str) -> np.ndarray:
        raise NotImplementedError

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def token_text(self, token: int) -> str:
        """One token as a human reads it (used by `Task.decode_token`)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "vocab_size": self.vocab_size, "eos_id": self.eos_id, "pad_id": self.pad_id}

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / SAVED).write_text(json.dumps({**self.describe(), **self._state()}, indent=2) + "\n")

    def _state(self) -> dict[str, Any]:
        return {}


class ByteTokenizer(TextTokenizer):
    """UTF-8 bytes: no vocabulary to download or train, any text round-trips exactly."""

    spec, vocab_size, eos_id, pad_id = "byte", 258, 256, 257

    def encode(self, text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        return bytes(int(i) for i in ids if 0 <= int(i) < 256).decode("utf-8", errors="replace")

    def token_text(self, token: int) -> str:
        if token == self.eos_id:
            return "<eos>"
        if token == self.pad_id:
            return "<pad>"
        return chr(token) if 32 <= token < 127 else f"<0x{token:02X}>"


class CharTokenizer(TextTokenizer):
    """One id per character of the training text (sorted), then EOS, PAD and UNK for unseen characters."""

    spec = "char"

    def __init__(self, chars: str) -> None:
        self.chars = "".join(sorted(set(chars)))
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        n = len(self.chars)
        self.eos_id, self.pad_id, self.unk_id, self.vocab_size = n, n + 1, n + 2, n + 3

    @classmethod
    def train(cls, texts: Iterable[str]) -> CharTokenizer:
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        if not seen:
            raise CorpusError("tokenizer 'char' found no training text to build its vocabulary from")
        return cls("".join(seen))

    def encode(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        where = np.minimum(np.searchsorted(self._codes, codes), len(self._codes) - 1)
        return np.where(self._codes[where] == codes, where, self.unk_id).astype(np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        n = len(self.chars)
        return "".join(
            self.chars[i] if i < n else "\ufffd" for i in map(int, ids) if i not in (self.eos_id, self.pad_id)
        )

    def token_text(self, token: int) -> str:
        special = {self.eos_id: "<eos>", self.pad_id: "<pad>", self.unk_id: "<unk>"}
        if token in special:
            return special[token]
        if not 0 <= token < len(self.chars):
            return f"<{token}?>"
        char = self.chars[token]
        return "' '" if char == " " else char if char.isprintable() else repr(char)[1:-1]

    def _state(self) -> dict[str, Any]:
        return {"chars": self.chars, "unk_id": self.unk_id}


class HFTokenizer(TextTokenizer):
    """A `transformers` tokenizer (Hub, local folder or a BPE trained here); PAD falls back to EOS."""

    def __init__(self, tokenizer: Any, spec: str) -> None:
        eos = tokenizer.eos_token_id
        if eos is None:
            raise CorpusError(f"tokenizer {spec!r} has no end-of-text token to separate documents; pick another")
        self.tokenizer, self.spec = tokenizer, spec
        self.eos_id = int(eos)
        self.pad_id = int(eos if tokenizer.pad_token_id is None else tokenizer.pad_token_id)
        self.vocab_size = max(len(tokenizer), self.pad_id + 1)

    def encode(self, text: str) -> np.ndarray:
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is not None:  # fast path: parallel, and no "sequence longer than model_max_length" warning
            return [np.asarray(e.ids, np.int32) for e in backend.encode_batch(list(texts), add_special_tokens=False)]
        ids = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [np.asarray(i, np.int32) for i in ids]

    def decode(self, ids: Iterable[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

    def token_text(self, token: int) -> str:
        return self.tokenizer.decode([int(token)])

    def save(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(str(folder))
        super().save(folder)

    def _state(self) -> dict[str, Any]:
        return {"kind": "transformers"}


def load_tokenizer(spec: str, texts_for_training: Iterable[str] | None = None) -> TextTokenizer:
    """The tokenizer a spec names (see the module doc); `bpe:N` and `char` learn from `texts_for_training`."""
    if spec == "byte":
        return ByteTokenizer()
    if spec == "char":
        return CharTokenizer.train(_need_texts(spec, texts_for_training))
    if spec.startswith("bpe:"):
        return train_bpe(_bpe_size(spec), _need_texts(spec, texts_for_training))
    folder = Path(spec).expanduser()
    if (folder / SAVED).is_file():
        return saved_tokenizer(folder)
    return _pretrained(spec, local=folder.exists())


def saved_tokenizer(folder: Path) -> TextTokenizer:
    """Read back a tokenizer written by `TextTokenizer.save` (offline)."""
    path = Path(folder) / SAVED
    if not path.is_file():
        raise CorpusError(f"{folder} holds no saved tokenizer ({SAVED}); prepare the corpus again")
    state = json.loads(path.read_text())
    if state["spec"] == "byte":
        return ByteTokenizer()
    if "chars" in state:
        return CharTokenizer(state["chars"])
    from transformers import AutoTokenizer

    return HFTokenizer(AutoTokenizer.from_pretrained(str(folder)), state["spec"])


def _need_texts(spec: str, texts: Iterable[str] | None) -> Iterable[str]:
    if texts is None:
        raise CorpusError(f"tokenizer {spec!r} is learnt from the corpus: pass its training texts")
    return texts


def _bpe_size(spec: str) -> int:
    size = spec.removeprefix("bpe:")
    if not size.isdigit() or int(size) < 260:
        raise CorpusError(f"tokenizer {spec!r}: write bpe:N with N >= 260 (256 bytes, EOS, PAD and some merges)")
    return int(size)


def train_bpe(vocab_size: int, texts: Iterable[str]) -> HFTokenizer:
    """A byte-level BPE (GPT-2 style pre-tokenisation) trained on `texts`, wrapped as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TEXT, PAD_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=EOS_TEXT, pad_token=PAD_TEXT)
    return HFTokenizer(wrapped, f"bpe:{vocab_size}")


def _pretrained(spec: str, local: bool) -> HFTokenizer:
    """`AutoTokenizer.from_pretrained`, failing fast (cache only) when the Hub cannot be reached."""
    from transformers import AutoTokenizer

    offline = not local and not hub_reachable()
    try:
        tokenizer = AutoTokenizer.from_pretrained(spec, local_files_only=offline)
    except Exception as err:  # OSError offline, ValueError/KeyError for folders that hold no tokenizer
        where = "the Hub is unreachable and it is not in the local cache" if offline else str(err).splitlines()[0]
        raise CorpusError(f"could not load tokenizer {spec!r}: {where}; {OFFLINE_HINT}") from err
    return HFTokenizer(tokenizer, spec)


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the Hub endpoint opens (skips the libraries' minute of retries when offline).

    Behind a proxy the direct probe says nothing, so it answers True and lets the library try.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")):
        return True
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def tokenizer_with_fallback(spec: str, texts_for_training: Iterable[str] | None = None) -> TextTokenizer:
    """`load_tokenizer(spec)`, or the byte tokenizer with a warning when that cannot be loaded (offline)."""
    try:
        return load_tokenizer(spec, texts_for_training)
    except CorpusError as err:
        warnings.warn(f"{err}. Falling back to the byte-level tokenizer ('byte').", stacklevel=2)
        return ByteTokenizer()
