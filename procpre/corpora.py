"""Text corpora for the downstream language-modelling stage: read, tokenise, pack and store them on disk.

The paper's semantic stage trains on C4, CodeParrot and DeepMind Mathematics (SPEC.md,
"Downstream semantic pretraining"). `prepare_corpus` turns any of them, or local text,
into fixed `[N, seq_length]` int32 rows and their loss masks under `out_dir/<split>/`,
described by `out_dir/corpus.json`. The `corpus` task (procpre/tasks/corpus.py) serves
those rows through the data path every procedural task uses, so training, evaluation and
transfer need nothing new.

Layouts:

- language corpora (C4, CodeParrot, local text): documents joined by EOS and cut into
  rows of `seq_length` tokens; every position is scored except the last;
- dm-math: one `question \\n answer EOS` per row, right-padded with PAD; only the answer
  and its EOS are scored; pairs longer than `seq_length` are skipped and counted.

Training rows are stored in a seeded shuffled order (`seed`); evaluation rows keep the
corpus order. From the shell: `procpre downstream lm --corpus ... --tokenizer ...` prepares and trains.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from procpre.text_tokenizers import (
    CorpusError,
    TextTokenizer,
    load_tokenizer,
    saved_tokenizer,
    tokenizer_with_fallback,
)

__all__ = ["CorpusError", "iter_texts", "load_tokenizer", "prepare_corpus", "read_corpus_meta", "saved_tokenizer"]

DM_MATH = "dm-math"


@dataclass(frozen=True)
class HubCorpus:
    repo: str
    config: str | None
    field: str
    #: whether the Hub has a validation split; else every `heldout_every`-th training document is held out
    has_validation: bool


HUB_CORPORA = {
    "c4": HubCorpus("allenai/c4", "en", "text", True),
    "codeparrot": HubCorpus("codeparrot/codeparrot-clean", None, "content", False),
}
#: the paper's tokenizer per corpus; local paths get GPT-2's (both fall back to "byte" offline)
DEFAULT_TOKENIZERS = {"c4": "gpt2", "codeparrot": "codeparrot/codeparrot", DM_MATH: "char"}
LOCAL_DEFAULT_TOKENIZER = "gpt2"
HELDOUT_EVERY = 100
DOC_SUFFIXES = (".txt", ".py", ".md", ".rst")
RECORD_SUFFIXES = (".jsonl", ".parquet")
META, TOKENIZER_DIR = "corpus.json", "tokenizer"
#: corpus split -> prepared folder, for the task's train / validation / test
LM_SPLITS = {"train": "train", "validation": "validation", "test": "validation"}
DM_SPLITS = {"train": "train", "validation": "interpolate", "test": "extrapolate"}
ENCODE_BATCH = 256
PROGRESS_MIN_TOKENS = 1 << 22
#: BPE and char vocabularies learn from about this many characters per training token wanted
CHARS_PER_TOKEN = 4
KNOWN = (*HUB_CORPORA, DM_MATH)
PathLike = str | os.PathLike[str]


# -- reading --------------------------------------------------------------------------
def iter_texts(
    corpus: str,
    split: str,
    data_dir: PathLike | None = None,
    text_field: str | None = None,
    heldout_every: int = HELDOUT_EVERY,
) -> Iterator[Any]:
    """Documents of one split in a fixed order: `str`, or `(question, answer)` pairs for dm-math.

    Names and paths are checked now, so a mistake fails before any download or tokenisation.
    Splits: `train`, `validation` (`test` is the same); dm-math also `interpolate`,
    `extrapolate` (= validation, test) and a single `train-easy|medium|hard`.
    """
    if corpus == DM_MATH:
        return _dm_math_pairs(_dm_math_files(data_dir, split))
    heldout = _is_heldout(corpus, split)
    if corpus in HUB_CORPORA:
        return _hub_texts(corpus, heldout, heldout_every)
    return _held_out(_local_documents(_local_path(corpus), text_field), heldout, heldout_every)


def _is_heldout(corpus: str, split: str) -> bool:
    if split not in LM_SPLITS:
        raise CorpusError(f"{corpus}: unknown split {split!r}; choose one of {', '.join(LM_SPLITS)}")
    return split != "train"


def _held_out(docs: Iterable[Any], heldout: bool, every: int) -> Iterator[Any]:
    """Documents `0, every, 2*every, ...` are the held-out (validation) slice; the rest are training data."""
    return (doc for i, doc in enumerate(docs) if (i % every == 0) == heldout)


def _hub_texts(corpus: str, heldout: bool, every: int) -> Iterator[str]:
    hub = HUB_CORPORA[corpus]
    split = "validation" if heldout and hub.has_validation else "train"
    try:
        import datasets

        rows = datasets.load_dataset(hub.repo, hub.config, split=split, streaming=True)
    except Exception as err:  # offline this is ConnectionError, OSError or an httpx error, depending on versions
        raise _network_error(corpus, err) from err
    texts = _guarded(corpus, (row[hub.field] for row in rows))
    return texts if hub.has_validation else _held_out(texts, heldout, every)


def _guarded(corpus: str, texts: Iterator[str]) -> Iterator[str]:
    """Streaming reads shards lazily: a network failure mid-stream gets the same clear message."""
    try:
        yield from texts
    except Exception as err:
        raise _network_error(corpus, err) from err


def _network_error(corpus: str, err: Exception) -> CorpusError:
    hub = HUB_CORPORA[corpus]
    return CorpusError(
        f"{corpus} needs network access or a local copy: pass a PATH (a .txt/.jsonl/.parquet file or a folder of "
        f"them) as the corpus instead. Reading {hub.repo} from the Hub failed: {type(err).__name__}: {err}"
    )


def _local_path(corpus: str) -> Path:
    path = Path(corpus).expanduser()
    if path.exists():
        return path
    close = difflib.get_close_matches(corpus, KNOWN, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise CorpusError(
        f"unknown corpus {corpus!r} (no such name, and no such file or folder).{hint} Use one of "
        f"{', '.join(KNOWN)} (dm-math with data_dir=...), or the path of a .txt/.jsonl/.parquet file or of a "
        "folder of .txt/.py files"
    )


def _local_documents(path: Path, text_field: str | None) -> Iterator[str]:
    """A folder: one document per .txt/.py/.md file (records for .jsonl/.parquet); a .txt file: paragraphs."""
    field = text_field or "text"
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in DOC_SUFFIXES + RECORD_SUFFIXES)
        if not files:
            raise CorpusError(f"folder {path} holds no {'/'.join(DOC_SUFFIXES + RECORD_SUFFIXES)} files")
        docs: Iterator[str] = (doc for file in files for doc in _file_documents(file, field, whole=True))
    elif path.suffix in DOC_SUFFIXES + RECORD_SUFFIXES:
        docs = _file_documents(path, field, whole=path.suffix != ".txt")
    else:
        raise CorpusError(
            f"{path}: unsupported file type; use .txt (blank-line separated), .jsonl, .parquet or a folder"
        )
    return (doc for doc in docs if doc.strip())


def _file_documents(path: Path, field: str, whole: bool) -> Iterator[str]:
    if path.suffix == ".jsonl":
        return _jsonl_documents(path, field)
    if path.suffix == ".parquet":
        return _parquet_documents(path, field)
    if whole:
        return iter([path.read_text(encoding="utf-8", errors="replace")])
    return _paragraphs(path)


def _paragraphs(path: Path) -> Iterator[str]:
    """Documents separated by blank lines, read line by line (files larger than memory are fine)."""
    lines: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                lines.append(line)
            elif lines:
                yield "".join(lines).rstrip("\n")
                lines = []
    if lines:
        yield "".join(lines).rstrip("\n")


def _jsonl_documents(path: Path, field: str) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise CorpusError(f"{path}:{number}: not valid JSON ({err})") from None
            if not isinstance(record, dict) or field not in record:
                keys = ", ".join(record) if isinstance(record, dict) else type(record).__name__
                raise CorpusError(f"{path}:{number}: no field {field!r} (found: {keys}); pass text_field=...")
            yield str(record[field])


def _parquet_documents(path: Path, field: str) -> Iterator[str]:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    if field not in table.schema_arrow.names:
        raise CorpusError(
            f"{path}: no column {field!r} (found: {', '.join(table.schema_arrow.names)}); pass text_field=..."
        )
    for batch in table.iter_batches(columns=[field], batch_size=1024):
        yield from (str(text) for text in batch.column(0).to_pylist() if text is not None)


# -- DeepMind Mathematics --------------------------------------------------------------
def _dm_math_files(data_dir: PathLike | None, split: str) -> list[Path]:
    folders = _dm_math_folders(_dm_math_root(data_dir), split)
    files = sorted(f for folder in folders for f in folder.glob("*.txt"))
    if not files:
        raise CorpusError(f"dm-math: no *.txt files in {', '.join(map(str, folders))}")
    return files


def _dm_math_root(data_dir: PathLike | None) -> Path:
    if data_dir is None:
        raise CorpusError(
            "dm-math reads the DeepMind Mathematics v1.0 text files: pass data_dir=<folder holding train-easy/, "
            "interpolate/, extrapolate/> (the extracted mathematics_dataset-v1.0.tar.gz)"
        )
    root = Path(data_dir).expanduser()
    if (root / "mathematics_dataset-v1.0").is_dir():
        root = root / "mathematics_dataset-v1.0"
    if not root.is_dir():
        raise CorpusError(f"dm-math: data_dir {root} is not a folder; pass the extracted mathematics_dataset-v1.0")
    return root


def _dm_math_folders(root: Path, split: str) -> list[Path]:
    name = DM_SPLITS.get(split, split)
    if name == "train":
        folders = sorted(p for p in root.glob("train-*") if p.is_dir())
    elif name in ("interpolate", "extrapolate") or name.startswith("train-"):
        folders = [root / name] if (root / name).is_dir() else []
    else:
        raise CorpusError(
            f"dm-math: unknown split {split!r}; choose train, interpolate (validation), "
            "extrapolate (test) or train-easy/train-medium/train-hard"
        )
    if not folders:
        found = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir())) or "nothing"
        raise CorpusError(
            f"dm-math split {split!r}: no {name}* folder in {root} (found: {found}); expected the "
            "mathematics_dataset-v1.0 layout train-easy/ ... interpolate/ extrapolate/"
        )
    return folders


def _dm_math_pairs(files: list[Path]) -> Iterator[tuple[str, str]]:
    """One pair from each file in turn, so any prefix of the stream covers every module evenly."""
    readers = [_question_answers(f) for f in files]
    while readers:
        alive = []
        for reader in readers:
            pair = next(reader, None)
            if pair is not None:
                yield pair
                alive.append(reader)
        readers = alive


def _question_answers(path: Path) -> Iterator[tuple[str, str]]:
    with path.open(encoding="utf-8") as fh:
        while question := fh.readline():
            answer = fh.readline()
            if not answer:
                raise CorpusError(f"{path}: the last question has no answer line (files alternate question/answer)")
            yield question.rstrip("\n"), answer.rstrip("\n")


# -- tokenizer ------------------------------------------------------------------------
def resolve_tokenizer(corpus: str, spec: str | None, training_texts: Callable[[], Iterable[str]]) -> TextTokenizer:
    """The requested tokenizer; with no request, the corpus's paper tokenizer, or "byte" (warned) offline."""
    if spec is not None:
        return load_tokenizer(spec, training_texts() if _learnt(spec) else None)
    name = DEFAULT_TOKENIZERS.get(corpus, LOCAL_DEFAULT_TOKENIZER)
    return tokenizer_with_fallback(name, training_texts() if _learnt(name) else None)


def _learnt(spec: str) -> bool:
    return spec == "char" or spec.startswith("bpe:")


def _tokenizer_texts(docs: Iterable[Any], char_budget: int) -> Iterator[str]:
    """Training documents as text (dm-math: `question \\n answer`) up to about `char_budget` characters."""
    used = 0
    for doc in docs:
        text = "\n".join(doc) if isinstance(doc, tuple) else doc
        yield text
        used += len(text)
        if used >= char_budget:
            return


# -- writing rows ---------------------------------------------------------------------
class _Rows:
    """Rows appended chunk by chunk to raw files, then written as .npy (training rows in a seeded order)."""

    def __init__(self, folder: Path, seq_length: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.seq_length, self.count = folder, seq_length, 0
        self._files = {name: (folder / f"{name}.raw").open("wb") for name in ("input_ids", "loss_mask")}

    def __enter__(self) -> _Rows:
        return self

    def __exit__(self, *exc: Any) -> None:
        for fh in self._files.values():
            fh.close()

    def add(self, ids: np.ndarray, mask: np.ndarray) -> None:
        self._files["input_ids"].write(np.ascontiguousarray(ids, np.int32).tobytes())
        self._files["loss_mask"].write(np.ascontiguousarray(mask, np.bool_).tobytes())
        self.count += len(ids)

    def finish(self, order: np.ndarray | None, chunk: int = 4096) -> None:
        self.__exit__()
        shape = (self.count, self.seq_length)
        for name, dtype in (("input_ids", np.int32), ("loss_mask", np.bool_)):
            raw = self.folder / f"{name}.raw"
            src = np.memmap(raw, dtype=dtype, mode="r", shape=shape)
            dst = np.lib.format.open_memmap(self.folder / f"{name}.npy", mode="w+", dtype=dtype, shape=shape)
            for lo in range(0, self.count, chunk):
                hi = min(lo + chunk, self.count)
                dst[lo:hi] = src[lo:hi] if order is None else src[np.asarray(order[lo:hi])]
            dst.flush()
            del src, dst
            raw.unlink()


def _pack_documents(
    texts: Iterable[str], tokenizer: TextTokenizer, rows: _Rows, rows_wanted: int, bar: tqdm
) -> dict[str, int]:
    """Documents joined by EOS, cut into full rows until `rows_wanted`; counts the documents that made it in."""
    length, eos = rows.seq_length, np.array([tokenizer.eos_id], np.int32)
    mask = np.ones((1, length), bool)
    mask[:, -1] = False
    carry, pending = np.empty(0, np.int32), np.empty(0, np.int64)
    position = emitted = used = 0
    for batch in _batched(texts, ENCODE_BATCH):
        encoded = tokenizer.encode_batch(batch)
        sizes = np.array([len(e) + 1 for e in encoded], np.int64)
        pending = np.concatenate([pending, position + np.cumsum(sizes) - sizes])
        position += int(sizes.sum())
        stream = np.concatenate([carry, *(piece for e in encoded for piece in (e, eos))])
        n = min(len(stream) // length, rows_wanted - rows.count)
        rows.add(stream[: n * length].reshape(n, length), np.broadcast_to(mask, (n, length)))
        bar.update(n * length)
        emitted += n * length
        used += int((pending < emitted).sum())
        pending, carry = pending[pending >= emitted], stream[n * length :]
        if rows.count >= rows_wanted:
            break
    return {"documents": used, "tokens": rows.count * length, "scored_tokens": rows.count * (length - 1)}


def _question_answer_rows(
    pairs: Iterable[tuple[str, str]], tokenizer: TextTokenizer, rows: _Rows, budget: int, bar: tqdm
) -> dict[str, int]:
    """`question SEP answer EOS` per row, PAD after; only the answer and EOS are scored. Stops at `budget` tokens."""
    length, sep = rows.seq_length, tokenizer.encode("\n")
    tokens = scored = skipped = used = 0
    for batch in _batched(pairs, ENCODE_BATCH):
        questions = tokenizer.encode_batch([q for q, _ in batch])
        answers = tokenizer.encode_batch([a for _, a in batch])
        ids = np.full((len(batch), length), tokenizer.pad_id, np.int32)
        mask = np.zeros((len(batch), length), bool)
        k = 0
        for question, answer in zip(questions, answers):
            start = len(question) + len(sep)
            end = start + len(answer) + 1
            if end > length:
                skipped += 1
                continue
            ids[k, :end] = np.concatenate([question, sep, answer, [tokenizer.eos_id]])
            mask[k, max(start - 1, 0) : end - 1] = True  # position i scores token i+1: the answer and its EOS
            k, tokens, scored = k + 1, tokens + end, scored + end - start
            if tokens >= budget:
                break
        rows.add(ids[:k], mask[:k])
        used += k
        bar.update(min(tokens, budget) - bar.n)
        if tokens >= budget:
            break
    return {"documents": used, "tokens": tokens, "scored_tokens": scored, "skipped": skipped}


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


# -- preparing ------------------------------------------------------------------------
def prepare_corpus(
    corpus: str,
    out_dir: PathLike,
    tokenizer_spec: str | None = None,
    seq_length: int = 1024,
    max_train_tokens: int = 10_000_000,
    max_eval_tokens: int = 1_000_000,
    data_dir: PathLike | None = None,
    seed: int = 0,
    text_field: str | None = None,
    heldout_every: int = HELDOUT_EVERY,
) -> dict[str, Any]:
    """Tokenise and store a corpus for the `corpus` task (see the module doc); returns `corpus.json`'s content.

    Deterministic. Reuses `out_dir` when it already holds this very preparation, and refuses to
    overwrite anything else. The work happens in a sibling `.partial` folder renamed at the end,
    so an interrupted run never leaves a half-written corpus behind.
    """
    request = _request(
        corpus, tokenizer_spec, seq_length, max_train_tokens, max_eval_tokens, data_dir, seed, text_field, heldout_every
    )
    out = Path(out_dir).expanduser()
    reused = _reuse(out, request)
    if reused is not None:
        return reused
    _check_sizes(seq_length, max_train_tokens, max_eval_tokens, heldout_every)
    _check_source(corpus, data_dir)

    def read(split: str) -> Iterator[Any]:
        return iter_texts(corpus, split, data_dir, text_field, heldout_every)

    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        tokenizer = resolve_tokenizer(
            corpus, tokenizer_spec, lambda: _tokenizer_texts(read("train"), CHARS_PER_TOKEN * max_train_tokens)
        )
        tokenizer.save(staging / TOKENIZER_DIR)
        split_map = DM_SPLITS if corpus == DM_MATH else LM_SPLITS
        splits = {}
        for name in dict.fromkeys(split_map.values()):
            budget = max_train_tokens if name == "train" else max_eval_tokens
            order_seed = seed if name == "train" else None
            splits[name] = _write_split(
                corpus, name, read(name), tokenizer, staging / name, seq_length, budget, order_seed
            )
        meta = _meta(request, tokenizer, split_map, splits)
        (staging / META).write_text(json.dumps(meta, indent=2) + "\n")
        if out.exists():
            out.rmdir()  # `_reuse` let it through: an empty folder
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return meta


def _write_split(
    corpus: str,
    split: str,
    docs: Iterator[Any],
    tokenizer: TextTokenizer,
    folder: Path,
    seq_length: int,
    budget: int,
    order_seed: int | None,
) -> dict[str, int]:
    bar = tqdm(
        total=budget,
        unit="tok",
        unit_scale=True,
        desc=f"{corpus} {split}",
        mininterval=1.0,
        disable=budget < PROGRESS_MIN_TOKENS,
    )
    with bar, _Rows(folder, seq_length) as rows:
        if corpus == DM_MATH:
            stats = _question_answer_rows(docs, tokenizer, rows, budget, bar)
        else:
            stats = _pack_documents(docs, tokenizer, rows, budget // seq_length, bar)
        if rows.count == 0:
            raise CorpusError(
                f"{corpus}: split {split!r} gave no row of at most seq_length={seq_length} tokens; "
                "add text, or change seq_length"
            )
        order = None if order_seed is None else np.random.default_rng(order_seed).permutation(rows.count)
        rows.finish(order)
    return {"rows": rows.count, **stats}


def _request(
    corpus: str,
    tokenizer: str | None,
    seq_length: int,
    max_train_tokens: int,
    max_eval_tokens: int,
    data_dir: PathLike | None,
    seed: int,
    text_field: str | None,
    heldout_every: int,
) -> dict[str, Any]:
    """Everything that decides the prepared rows, with paths made absolute: the key of idempotent reuse."""

    def absolute(value: PathLike | None) -> str | None:
        return None if value is None else str(Path(value).expanduser().resolve())

    return {
        "corpus": corpus if corpus in KNOWN else absolute(corpus),
        "data_dir": absolute(data_dir),
        "tokenizer": absolute(tokenizer) if _is_folder_spec(tokenizer) else tokenizer,
        "seq_length": int(seq_length),
        "max_train_tokens": int(max_train_tokens),
        "max_eval_tokens": int(max_eval_tokens),
        "seed": int(seed),
        "text_field": text_field,
        "heldout_every": int(heldout_every),
    }


def _is_folder_spec(spec: str | None) -> bool:
    builtin = spec is None or spec in ("byte", "char") or spec.startswith("bpe:")
    return not builtin and Path(spec).expanduser().exists()


def _reuse(out: Path, request: dict[str, Any]) -> dict[str, Any] | None:
    """The existing preparation when `out` holds this one; None when `out` is free; else a clear error."""
    if (out / META).is_file():
        meta = json.loads((out / META).read_text())
        theirs = meta.get("request", {})
        if theirs == request:
            print(f"reusing the prepared corpus in {out}", file=sys.stderr)
            return meta
        changed = "; ".join(
            f"{k}: {theirs.get(k)!r} there, {v!r} asked" for k, v in request.items() if theirs.get(k) != v
        )
        raise CorpusError(
            f"{out} already holds a corpus prepared with other settings ({changed}); "
            "pass another out_dir or delete that folder"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CorpusError(f"{out} exists and is not a prepared corpus (no {META}); pass a new or empty out_dir")
    return None


def _check_source(corpus: str, data_dir: PathLike | None) -> None:
    """Fail on a wrong name or path before a tokenizer is fetched or trained (Hub corpora are checked on reading)."""
    if corpus == DM_MATH:
        _dm_math_files(data_dir, "train")
    elif corpus not in HUB_CORPORA:
        _local_path(corpus)


def _check_sizes(seq_length: int, max_train_tokens: int, max_eval_tokens: int, heldout_every: int) -> None:
    if seq_length < 2:
        raise CorpusError(f"seq_length must be >= 2, got {seq_length}")
    for name, value in (("max_train_tokens", max_train_tokens), ("max_eval_tokens", max_eval_tokens)):
        if value < seq_length:
            raise CorpusError(f"{name} must be >= seq_length ({seq_length}) to fill one row, got {value}")
    if heldout_every < 2:
        raise CorpusError(f"heldout_every must be >= 2 (every n-th document is held out), got {heldout_every}")


def _meta(
    request: dict[str, Any], tokenizer: TextTokenizer, split_map: dict[str, str], splits: dict[str, dict[str, int]]
) -> dict[str, Any]:
    return {
        "format": 1,
        "corpus": request["corpus"],
        "layout": "question_answer" if request["corpus"] == DM_MATH else "packed",
        "tokenizer": {**tokenizer.describe(), "requested": request["tokenizer"], "folder": TOKENIZER_DIR},
        "vocab_size": tokenizer.vocab_size,
        "pad_id": tokenizer.pad_id,
        "eos_id": tokenizer.eos_id,
        "seq_length": request["seq_length"],
        "seed": request["seed"],
        "split_map": split_map,
        "splits": splits,
        "request": request,
    }


def read_corpus_meta(folder: PathLike) -> dict[str, Any]:
    """`corpus.json` of a prepared folder, or a CorpusError saying how to make one."""
    path = Path(folder).expanduser() / META
    if not path.is_file():
        raise CorpusError(
            f"{folder} is not a prepared corpus (no {META}); make one with "
            "procpre.corpora.prepare_corpus or `procpre downstream lm --corpus ...`"
        )
    return json.loads(path.read_text())
