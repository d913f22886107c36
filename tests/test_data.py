"""Addressing, streams, builders and export: determinism, disjoint splits, Hub round trips, bad input."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from datasets.distributed import split_dataset_by_node

from procpre.cli import DEFAULT_BENCH_TASKS, main
from procpre.data import fixed_test_set, generate, generate_block, iter_range
from procpre.export import ExportError, export_dataset
from procpre.streaming import procedural_dataset
from procpre.tasks import TaskError, get_task

SMALL = {"seq_length": 6, "vocab_size": 10}


def small(name: str = "set"):
    return get_task(name, **SMALL)


def test_sample_is_a_function_of_its_address():
    task = small()
    whole = generate(task, 3, "train", 0, 3000)
    middle = generate(task, 3, "train", 1500, 2600)  # jumps straight into block 1, no replay
    assert np.array_equal(whole.input_ids[1500:2600], middle.input_ids)
    assert np.array_equal(whole.loss_mask[1500:2600], middle.loss_mask)
    again = generate(get_task("set", **SMALL), 3, "train", 0, 3000)
    assert np.array_equal(whole.input_ids, again.input_ids)


def test_seed_and_task_change_the_stream():
    a = generate(small("sort"), 0, "train", 0, 64).input_ids
    assert not np.array_equal(a, generate(small("sort"), 1, "train", 0, 64).input_ids)
    # the published generators drew the same inputs for every task; here tasks draw independent streams
    prompt_sort = a[:, :6]
    prompt_set = generate(small("set"), 0, "train", 0, 64).input_ids[:, :6]
    assert not np.array_equal(prompt_sort, prompt_set)


def test_splits_never_collide():
    task = get_task("sort", seq_length=8, vocab_size=50)
    rows = {
        split: {r.tobytes() for r in generate(task, 0, split, 0, 5000).input_ids}
        for split in ("train", "validation", "test")
    }
    assert not rows["train"] & rows["validation"]
    assert not rows["train"] & rows["test"]
    assert not rows["validation"] & rows["test"]
    # epochs do not replay a shifted copy: later blocks are new samples
    assert not {r.tobytes() for r in generate_block(task, 0, "train", 1).input_ids} & {
        r.tobytes() for r in generate_block(task, 0, "train", 0).input_ids
    }


def test_lanes_partition_the_range():
    task = small()
    seen = []
    for lane in range(3):
        for first, block in iter_range(task, 0, "train", 100, 5000, lane, 3):
            seen.extend(range(first, first + len(block)))
    assert sorted(seen) == list(range(100, 5000))


def _indices(ds) -> list[int]:
    return [int(i) for i in ds["index"]] if isinstance(ds, dict) else [int(r["index"]) for r in ds]


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("batch_size", [1, 100])
def test_stream_same_samples_whatever_workers_and_batch(workers, batch_size):
    task = small()
    reference = generate(task, 5, "train", 0, 4096)
    ds = procedural_dataset(task, seed=5, num_samples=4096).with_format("torch")
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, num_workers=workers)
    got = {}
    for batch in loader:
        for i, ids in zip(batch["index"].tolist(), batch["input_ids"]):
            got[i] = ids.numpy()
    assert sorted(got) == list(range(4096))
    assert all(np.array_equal(got[i], reference.input_ids[i]) for i in range(0, 4096, 97))


@pytest.mark.parametrize("world", [2, 3])
def test_stream_ranks_take_disjoint_shares(world):
    task = small()
    shares = [
        _indices(split_dataset_by_node(procedural_dataset(task, 1, num_samples=5000), r, world)) for r in range(world)
    ]
    flat = [i for share in shares for i in share]
    assert sorted(flat) == list(range(5000))
    assert all(len(share) > 0 for share in shares)


def test_endless_stream_and_resume_state():
    ds = procedural_dataset(small(), seed=2)
    it = iter(ds)
    first = [next(it)["index"] for _ in range(3)]
    assert first == [0, 1, 2]
    ds = procedural_dataset(small(), seed=2, num_samples=3000)
    it = iter(ds)
    for _ in range(1500):
        next(it)
    state = ds.state_dict()
    resumed = procedural_dataset(small(), seed=2, num_samples=3000)
    resumed.load_state_dict(state)
    # resumption restarts at the block boundary: everything after it is identical
    assert [r["index"] for r in resumed][-5:] == [2995, 2996, 2997, 2998, 2999]


def test_builders_stream_and_prepare(tmp_path):
    from builders import SequenceTasks

    builder = SequenceTasks(
        config_name="union", params={"seq_length": 4, "vocab_size": 8}, num_train=2000, cache_dir=str(tmp_path)
    )
    stream = builder.as_streaming_dataset("train")
    first = next(iter(stream))
    expected = generate(get_task("union", seq_length=4, vocab_size=8), 0, "train", 0, 1)
    assert first["input_ids"] == expected.input_ids[0].tolist()
    builder.download_and_prepare()
    prepared = builder.as_dataset()
    assert prepared["train"].num_rows == 2000
    assert (
        prepared["validation"][0]["input_ids"]
        == generate(get_task("union", seq_length=4, vocab_size=8), 0, "validation", 0, 1).input_ids[0].tolist()
    )
    with pytest.raises(TaskError, match="seq_length"):
        SequenceTasks(config_name="union", params={"seq_length": 5})


def test_export_round_trip(tmp_path):
    out = tmp_path / "data"
    tasks = [small("set"), small("sort")]
    result = export_dataset(tasks, out, 3000, seed=4, validation=50, test=20, command="procpre data export ...")
    assert result.written == ["set", "sort"]
    card = (out / "README.md").read_text()
    assert "config_name: set" in card and "config_name: sort" in card and "procpre data export" in card
    ds = datasets.load_dataset(str(out), "set", split="train")
    ref = generate(tasks[0], 4, "train", 0, 3000)
    assert ds.num_rows == 3000
    assert np.array_equal(np.array(ds["input_ids"]), ref.input_ids)
    assert np.array_equal(np.array(ds["loss_mask"], dtype=bool), ref.loss_mask)
    assert set(ds["task"]) == {"set"}
    stream = datasets.load_dataset(str(out), "sort", split="validation", streaming=True)
    rows = list(stream)
    assert len(rows) == 50
    assert rows[7]["input_ids"] == generate(tasks[1], 4, "validation", 7, 8).input_ids[0].tolist()
    manifest = json.loads((out / "procpre.json").read_text())
    assert manifest["configs"]["set"]["seed"] == 4


def test_a_downstream_task_exports_its_held_out_test_set_as_scored(tmp_path):
    """The test split is the fixed set a downstream run scores: distinct, and never in the training stream."""
    task = get_task("sorting_4", vocab=4, test_size=60)  # 4 numbers in 0..3: duplicates are common
    out = tmp_path / "data"
    export_dataset([task], out, 2000, seed=3, test=50, names=["sorting-seed3"])
    test = np.array(datasets.load_dataset(str(out), "sorting-seed3", split="test")["input_ids"])
    assert np.array_equal(test, fixed_test_set(task, 3).input_ids[:50])
    assert len({row.tobytes() for row in test}) == 50
    raw = generate(task, 3, "test", 0, 50).input_ids
    assert len({row.tobytes() for row in raw}) < 50  # what the raw test stream would have given
    train = np.array(datasets.load_dataset(str(out), "sorting-seed3", split="train")["input_ids"])
    assert not {row.tobytes() for row in train} & {row.tobytes() for row in test}
    assert "held-out test set" in (out / "README.md").read_text()
    with pytest.raises(ExportError, match="exceeds sorting's held-out test set .60 samples"):
        export_dataset([task], tmp_path / "more", 10, test=61)


def test_export_refuses_to_overwrite_different_data(tmp_path):
    out = tmp_path / "data"
    export_dataset([small("set")], out, 1000, seed=0)
    before = {p.name: p.stat().st_mtime_ns for p in (out / "set").iterdir()}
    again = export_dataset([small("set")], out, 1000, seed=0)  # identical: a no-op
    assert again.unchanged == ["set"] and not again.written
    with pytest.raises(ExportError, match="different data"):
        export_dataset([get_task("set", seq_length=7, vocab_size=10)], out, 1000, seed=0)
    with pytest.raises(ExportError, match="different data"):
        export_dataset([small("set")], out, 1000, seed=1)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "set").iterdir()} == before
    export_dataset([small("reverse")], out, 100)  # a new config joins the folder
    assert "config_name: reverse" in (out / "README.md").read_text()
    assert datasets.load_dataset(str(out), "set", split="train").num_rows == 1000
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a procpre export"):
        export_dataset([small("set")], foreign, 10)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]


def test_push_and_load_by_repo_id(tmp_path, hub):
    repo = hub.repo_id("procdata")
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "data",
            "export",
            "set",
            "sort",
            "-n",
            "1500",
            "--out",
            str(tmp_path / "d"),
            "-p",
            "seq_length=6",
            "-p",
            "vocab_size=10",
            "--validation",
            "10",
            "--push-to-hub",
            repo,
        ],
    )
    assert result.exit_code == 0, result.output
    hub.clear_cache()
    ds = datasets.load_dataset(repo, "set", split="train")
    assert np.array_equal(np.array(ds["input_ids"]), generate(small("set"), 0, "train", 0, 1500).input_ids)
    stream = datasets.load_dataset(repo, "sort", split="validation", streaming=True)
    assert len(list(stream)) == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "preview", "sett"], "Did you mean 'set'"),
        (["data", "preview", "union", "-p", "seq_length=7"], "even"),
        (["data", "preview", "set", "-p", "vocab_size=2"], "vocab_size"),
        (["data", "preview", "set", "-p", "colour=red"], "not a parameter"),
        (["data", "preview", "dyck", "-p", "k=0"], "'k'"),
        (["data", "preview", "eca", "-p", "rule=256"], "'rule'"),
        (["data", "export", "set", "-n", "0", "--out", "OUT"], "num-samples"),
    ],
)
def test_bad_input_is_one_clear_error(args, message, tmp_path):
    args = [str(tmp_path / "o") if a == "OUT" else a for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_tasks_and_preview():
    runner = CliRunner()
    listing = json.loads(runner.invoke(main, ["tasks", "--json"]).output)
    for name in (*DEFAULT_BENCH_TASKS, "mixture"):
        assert name in listing
    assert {p["name"] for p in listing["dyck_shuffle"]["params"]} >= {"k", "seq_length", "p_open", "max_depth"}
    out = runner.invoke(main, ["data", "preview", "set", "-p", "seq_length=5", "-n", "2"]).output
    assert "SEP" in out and "[" in out and out.count("valid") == 2


def test_cli_bench_json():
    result = CliRunner().invoke(main, ["data", "bench", "sort", "-p", "seq_length=8", "--seconds", "0.2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    row = report["results"][0]
    assert row["task"] == "sort" and row["raw_samples_per_s"] > 0 and row["stream_samples_per_s"] > 0
    assert report["machine"]["cpu_count"] >= 1
