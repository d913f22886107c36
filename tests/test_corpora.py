"""Text corpora for the downstream LM stage, offline: CPython's own sources (code) and bundled documentation
(English), plus a tiny DeepMind-Mathematics folder written here. Packing, masks, tokenizers, reuse, the `corpus`
task through the training data path, perplexity through `evaluate`, and clear errors."""

from __future__ import annotations

import json
import math
import shutil
import sysconfig
from pathlib import Path
from pydoc_data.topics import topics

import numpy as np
import pytest
import torch

from procpre import text_tokenizers
from procpre.config import TrainConfig
from procpre.corpora import CorpusError, iter_texts, prepare_corpus
from procpre.downstream import TEST_METRICS, evaluate_test_set, run_downstream
from procpre.modeling import build_model, masked_token_losses
from procpre.tasks import TaskError, get_task
from procpre.text_tokenizers import ByteTokenizer, load_tokenizer, saved_tokenizer
from procpre.train import samples

EOS = ByteTokenizer.eos_id
STDLIB_FILES = ("bisect.py", "colorsys.py", "keyword.py", "heapq.py", "textwrap.py", "this.py", "fnmatch.py")
SMALL = {"seq_length": 64, "max_train_tokens": 8_000, "max_eval_tokens": 2_000, "heldout_every": 4}


@pytest.fixture(scope="module")
def docs_jsonl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """English text: CPython's bundled documentation topics, one document per topic."""
    docs = [topics[key] for key in sorted(topics)][:40]
    path = tmp_path_factory.mktemp("english") / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": doc}) + "\n" for doc in docs))
    return path, docs


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Code: a handful of CPython standard-library modules."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    folder = tmp_path_factory.mktemp("code")
    for name in STDLIB_FILES:
        (folder / name).write_text((stdlib / name).read_text(encoding="utf-8"))
    return folder


DM_QUESTIONS = {
    "algebra__linear_1d": [(f"Solve {i}*x + {i + 1} = {2 * i + 1} for x.", str(i % 7)) for i in range(12)],
    "arithmetic__add": [(f"What is {i} plus {3 * i}?", str(4 * i)) for i in range(12)],
}


@pytest.fixture(scope="module")
def dm_math_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The v1.0 layout: a folder per split, a .txt per module alternating question and answer lines."""
    root = tmp_path_factory.mktemp("dm") / "mathematics_dataset-v1.0"
    for split, shift in (("train-easy", 0), ("interpolate", 100), ("extrapolate", 1000)):
        (root / split).mkdir(parents=True)
        for module, pairs in DM_QUESTIONS.items():
            lines = [f"{q} ({shift})\n{a}\n" for q, a in pairs]
            (root / split / f"{module}.txt").write_text("".join(lines))
    return root.parent


def byte_stream(docs: list[str]) -> np.ndarray:
    return np.concatenate([np.append(np.frombuffer(d.encode(), np.uint8).astype(np.int32), EOS) for d in docs])


# -- reading --------------------------------------------------------------------------
def test_local_readers_split_documents(tmp_path: Path, code_dir: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("first paragraph\nstill first\n\n\nsecond\n  \nthird\n")
    assert list(iter_texts(str(text), "train", heldout_every=2)) == ["second"]
    assert list(iter_texts(str(text), "validation", heldout_every=2)) == ["first paragraph\nstill first", "third"]
    code = list(iter_texts(str(code_dir), "train", heldout_every=100)) + list(iter_texts(str(code_dir), "test"))
    assert sorted(code) == sorted((code_dir / name).read_text() for name in STDLIB_FILES)


def test_parquet_and_text_field(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": ["a b", "c d", "e f"]}), tmp_path / "t.parquet")
    assert list(iter_texts(str(tmp_path / "t.parquet"), "train", text_field="body", heldout_every=3)) == ["c d", "e f"]
    with pytest.raises(CorpusError, match="no column 'text'.*body.*text_field"):
        list(iter_texts(str(tmp_path / "t.parquet"), "train"))


# -- packing --------------------------------------------------------------------------
def test_packing_shapes_masks_and_round_trip(tmp_path: Path, docs_jsonl: tuple[Path, list[str]]) -> None:
    path, docs = docs_jsonl
    meta = prepare_corpus(str(path), tmp_path / "prep", "byte", **SMALL)
    assert (meta["vocab_size"], meta["pad_id"], meta["eos_id"], meta["seq_length"]) == (258, 257, 256, 64)
    for split in ("train", "validation"):
        ids = np.load(tmp_path / "prep" / split / "input_ids.npy")
        mask = np.load(tmp_path / "prep" / split / "loss_mask.npy")
        assert ids.dtype == np.int32 and ids.shape == (meta["splits"][split]["rows"], 64) == mask.shape
        assert mask[:, :-1].all() and not mask[:, -1].any()
        if split == "validation":  # corpus order: the rows are the EOS-joined documents, cut
            assert ids.shape[0] == 2_000 // 64
            np.testing.assert_array_equal(ids.ravel(), byte_stream(docs[::4])[: ids.size])
        else:  # training rows are stored shuffled: the same rows as packing in order
            in_order = [d for i, d in enumerate(docs) if i % 4]
            packed = byte_stream(in_order)[: ids.size].reshape(-1, 64)
            assert sorted(map(bytes, packed.astype(np.int32))) == sorted(map(bytes, ids))
            assert not np.array_equal(packed, ids)
    assert meta["splits"]["validation"]["documents"] >= 1
    text = ByteTokenizer().decode(np.load(tmp_path / "prep" / "validation" / "input_ids.npy")[0])
    assert docs[0].startswith(text)


def test_code_corpus_and_same_seed_same_arrays(tmp_path: Path, code_dir: Path) -> None:
    first = prepare_corpus(str(code_dir), tmp_path / "a", "byte", 128, 6_000, 500, seed=3, heldout_every=3)
    again = prepare_corpus(str(code_dir), tmp_path / "b", "byte", 128, 6_000, 500, seed=3, heldout_every=3)
    other = prepare_corpus(str(code_dir), tmp_path / "c", "byte", 128, 6_000, 500, seed=4, heldout_every=3)
    assert first["splits"] == again["splits"] == other["splits"]
    for split in ("train", "validation"):
        for name in ("input_ids", "loss_mask"):
            a, b, c = (np.load(tmp_path / d / split / f"{name}.npy") for d in "abc")
            np.testing.assert_array_equal(a, b)
            if name == "input_ids":
                assert (split == "validation") == np.array_equal(a, c)  # the seed orders the training rows
    row = ByteTokenizer().decode(np.load(tmp_path / "a" / "train" / "input_ids.npy")[0])
    assert any(row.split("\ufffd")[0][:40] in (code_dir / n).read_text() for n in STDLIB_FILES)


def test_dm_math_rows_score_exactly_the_answers(tmp_path: Path, dm_math_dir: Path) -> None:
    data = shutil.copytree(dm_math_dir / "mathematics_dataset-v1.0", tmp_path / "data")  # the root, given directly
    (data / "train-easy" / "zz__long.txt").write_text("What is " + "1 + " * 30 + "1?\n31\n")  # too long for 64
    meta = prepare_corpus("dm-math", tmp_path / "dm", None, 64, 10_000, 10_000, data_dir=data)
    tok = saved_tokenizer(tmp_path / "dm" / "tokenizer")
    assert meta["tokenizer"]["spec"] == "char" and meta["vocab_size"] == tok.vocab_size
    assert meta["splits"]["train"]["skipped"] == 1 and meta["splits"]["train"]["rows"] == 24
    pairs = {
        "interpolate": set(iter_texts("dm-math", "interpolate", dm_math_dir)),
        "extrapolate": set(iter_texts("dm-math", "test", dm_math_dir)),
    }
    for split, expected in pairs.items():
        ids = np.load(tmp_path / "dm" / split / "input_ids.npy")
        mask = np.load(tmp_path / "dm" / split / "loss_mask.npy")
        seen = set()
        for row, scored in zip(ids, mask):
            targets = row[1:][scored[:-1]]
            assert targets[-1] == tok.eos_id and (row[np.flatnonzero(row == tok.eos_id)[0] + 1 :] == tok.pad_id).all()
            answer = tok.decode(targets)
            question = tok.decode(row[: np.flatnonzero(scored)[0]])  # up to (not incl.) the newline
            seen.add((question, answer))
        assert seen == expected and len(ids) == 24
    assert tok.decode(tok.encode("Solve Z")) == "Solve \ufffd"  # characters unseen in training map to UNK


def test_dm_math_score_per_split_and_pooled(tmp_path: Path, dm_math_dir: Path) -> None:
    prepare_corpus("dm-math", tmp_path / "dm", "char", 64, 400, 300, data_dir=dm_math_dir)
    task = get_task("corpus", data_dir=str(tmp_path / "dm"))
    torch.manual_seed(0)
    model = build_model("1_2_16", task)
    scores, _ = evaluate_test_set(model, task, seed=0)
    hits = {}
    for split in ("interpolate", "extrapolate"):
        ids = np.load(tmp_path / "dm" / split / "input_ids.npy")
        mask = np.load(tmp_path / "dm" / split / "loss_mask.npy")[:, :-1]
        with torch.no_grad():
            predicted = model(input_ids=torch.from_numpy(ids).long()).logits[:, :-1].argmax(-1).numpy()
        right = predicted == ids[:, 1:]
        hits[split] = (int(right[mask].sum()), int(mask.sum()))
        assert scores[f"{split}_accuracy"] == pytest.approx(hits[split][0] / hits[split][1])
        assert scores[f"{split}_exact_match"] == pytest.approx(np.mean([r[m].all() for r, m in zip(right, mask)]))
        assert scores[f"{split}_test_tokens"] == mask.sum() and scores[f"{split}_test_samples"] == len(ids)
    pooled = sum(h for h, _ in hits.values()) / sum(n for _, n in hits.values())
    assert scores["accuracy"] == pytest.approx(pooled) and scores["test_samples"] == sum(
        scores[f"{s}_test_samples"] for s in hits
    )


# -- tokenizers -----------------------------------------------------------------------
def test_bpe_trains_once_and_is_reused(
    tmp_path: Path, docs_jsonl: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, docs = docs_jsonl
    meta = prepare_corpus(str(path), tmp_path / "bpe", "bpe:300", **SMALL)
    assert meta["vocab_size"] == 300 and meta["tokenizer"]["spec"] == "bpe:300"
    tok = saved_tokenizer(tmp_path / "bpe" / "tokenizer")
    assert tok.decode(tok.encode(docs[5])) == docs[5] and len(tok.encode(docs[5])) < len(docs[5].encode())

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("retrained")

    monkeypatch.setattr(text_tokenizers, "train_bpe", no_training)
    assert prepare_corpus(str(path), tmp_path / "bpe", "bpe:300", **SMALL) == meta  # the folder is reused
    reused = prepare_corpus(
        str(path), tmp_path / "bpe32", str(tmp_path / "bpe" / "tokenizer"), **{**SMALL, "seq_length": 32}
    )
    assert reused["vocab_size"] == 300
    np.testing.assert_array_equal(
        load_tokenizer(str(tmp_path / "bpe32" / "tokenizer")).encode(docs[3]), tok.encode(docs[3])
    )
    with pytest.raises(CorpusError, match="other settings.*seq_length: 64 there, 128 asked"):
        prepare_corpus(str(path), tmp_path / "bpe", "bpe:300", **{**SMALL, "seq_length": 128})


def test_default_tokenizer_falls_back_to_bytes_offline(tmp_path: Path, docs_jsonl: tuple[Path, list[str]]) -> None:
    with pytest.raises(CorpusError, match="could not load tokenizer 'gpt2'.*'byte'"):
        load_tokenizer("gpt2")
    with pytest.warns(UserWarning, match="Falling back to the byte-level tokenizer"):
        meta = prepare_corpus(str(docs_jsonl[0]), tmp_path / "default", None, **SMALL)
    assert meta["tokenizer"]["spec"] == "byte" and meta["tokenizer"]["requested"] is None


# -- the corpus task ------------------------------------------------------------------
def test_corpus_task_through_the_training_data_path(tmp_path: Path, docs_jsonl: tuple[Path, list[str]]) -> None:
    prepare_corpus(str(docs_jsonl[0]), tmp_path / "prep", "byte", **SMALL)
    task = get_task("corpus", data_dir=str(tmp_path / "prep"))
    ids = np.load(tmp_path / "prep" / "train" / "input_ids.npy")
    n = len(ids)
    assert (task.kind, task.vocab_size, task.length, task.pad_id) == ("language", 258, 64, 257)
    block = samples(task, 0, "train", 0, n)
    np.testing.assert_array_equal(block.input_ids, ids)  # epoch 0: the stored order
    assert block.loss_mask[:, :-1].all() and task.verify(block.input_ids).all()
    epoch1, epoch1_other_seed = samples(task, 0, "train", n, 2 * n), samples(task, 1, "train", n, 2 * n)
    assert sorted(map(bytes, epoch1.input_ids)) == sorted(map(bytes, ids)) and not np.array_equal(epoch1.input_ids, ids)
    assert not np.array_equal(epoch1.input_ids, epoch1_other_seed.input_ids)
    np.testing.assert_array_equal(samples(task, 0, "train", n - 3, n + 3).input_ids[3:], epoch1.input_ids[:3])
    validation = np.load(tmp_path / "prep" / "validation" / "input_ids.npy")
    np.testing.assert_array_equal(samples(task, 0, "validation", 0, 10_000).input_ids, validation)  # no wrap
    np.testing.assert_array_equal(samples(task, 0, "test", 0, 5).input_ids, validation[:5])
    assert not task.verify(np.full((1, 64), 257)).any() and task.decode_token(ord("a")) == "a"
    with pytest.raises(TaskError, match="never generated"):
        task.sample(np.random.default_rng(0), 4)


def test_downstream_perplexity_is_exp_mean_loss(tmp_path: Path, docs_jsonl: tuple[Path, list[str]]) -> None:
    prepare_corpus(str(docs_jsonl[0]), tmp_path / "prep", "byte", **SMALL)
    config = TrainConfig(
        task="corpus",
        task_params={"data_dir": str(tmp_path / "prep")},
        model_size="1_2_16",
        batch_size=8,
        max_steps=10,
        lr=3e-3,
        eval_every_steps=10,
        save_every_steps=10,
        eval_samples=16,
        save_dir=str(tmp_path / "run"),
    ).validate()
    result = run_downstream(config)
    test = result.test
    assert json.loads((tmp_path / "run" / TEST_METRICS).read_text()) == test
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(result.train.checkpoint).eval()
    ids = torch.from_numpy(np.load(tmp_path / "prep" / "validation" / "input_ids.npy")).long()
    mask = torch.from_numpy(np.load(tmp_path / "prep" / "validation" / "loss_mask.npy"))
    with torch.no_grad():
        mean = float(masked_token_losses(model(input_ids=ids).logits, ids, mask)) / int(mask[:, :-1].sum())
    assert test["test_tokens"] == ids.shape[0] * 63 and test["test_samples"] == ids.shape[0]
    assert test["perplexity"] == pytest.approx(math.exp(mean), rel=1e-5)
    assert test["perplexity"] < 258 and 0 <= test["accuracy"] <= 1


# -- errors ---------------------------------------------------------------------------
def test_clear_errors(tmp_path: Path, docs_jsonl: tuple[Path, list[str]]) -> None:
    with pytest.raises(CorpusError, match="unknown corpus 'c5'.*Did you mean 'c4'"):
        iter_texts("c5", "train")
    with pytest.raises(CorpusError, match="unknown corpus '/nonexistent/x.txt'.*no such file"):
        prepare_corpus("/nonexistent/x.txt", tmp_path / "x", "byte", **SMALL)
    with pytest.raises(CorpusError, match="dm-math reads.*data_dir"):
        iter_texts("dm-math", "train")
    with pytest.raises(CorpusError, match="unknown split 'dev'"):
        iter_texts(str(docs_jsonl[0]), "dev")
    with pytest.raises(CorpusError, match="bpe:N with N >= 260"):
        load_tokenizer("bpe:10", ["text"])
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    with pytest.raises(CorpusError, match="not a prepared corpus"):
        prepare_corpus(str(docs_jsonl[0]), tmp_path / "busy", "byte", **SMALL)
    assert (tmp_path / "busy" / "mine.txt").read_text() == "keep me" and not list(tmp_path.glob(".*partial"))
    with pytest.raises(TaskError, match="'data_dir' is required"):
        get_task("corpus")
    with pytest.raises(TaskError, match="not a prepared corpus.*prepare_corpus"):
        get_task("corpus", data_dir=str(tmp_path))


def test_c4_without_network_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # the libraries read HF_HUB_OFFLINE once, at import: set their flags too, so nothing retries for a minute
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(CorpusError, match="c4 needs network access or a local copy: pass a PATH") as err:
        next(iter_texts("c4", "validation"))
    assert "allenai/c4" in str(err.value) and err.value.__cause__ is not None


def test_cli_downstream_lm_on_a_local_text_file(tmp_path):
    from pydoc_data.topics import topics

    from click.testing import CliRunner

    from procpre.cli import main

    text = tmp_path / "docs.txt"
    text.write_text("\n\n".join(list(topics.values())[:40]))
    result = CliRunner().invoke(
        main,
        [
            "downstream",
            "lm",
            "--corpus",
            str(text),
            "--tokenizer",
            "byte",
            "--seq-length",
            "32",
            "--max-train-tokens",
            "20000",
            "--max-eval-tokens",
            "2000",
            "--save_dir",
            str(tmp_path / "run"),
            "--model_size",
            "1_2_16",
            "--max_steps",
            "4",
            "--eval_every_steps",
            "4",
            "--save_every_steps",
            "4",
            "--eval_samples",
            "16",
            "--batch_size",
            "8",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "perplexity" in result.output
    assert (tmp_path / "run" / "checkpoint-4" / "config.json").exists()
    missing = CliRunner().invoke(main, ["downstream", "lm", "--corpus", str(tmp_path / "nope.txt")])
    assert missing.exit_code != 0 and "Traceback" not in missing.output
