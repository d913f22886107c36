"""Pooling the seeds of several comparison reports: numbers from the runs, and the mixes it must refuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from procpre.cli import main
from procpre.compare import parse_comparison, run_comparison
from procpre.config import ConfigError
from procpre.pool import pool_reports

DOWNSTREAM = {
    "task": "forwardaddition_2",
    "model_size": "1_2_16",
    "batch_size": 16,
    "max_steps": 6,
    "eval_every_steps": 6,
    "eval_samples": 32,
    "save_every_steps": 6,
    "test_size": 64,
}
PRETRAIN = {
    "name": "sort",
    "seed": 0,  # else a named pretraining takes its comparison's first seed, and call b's would differ
    "task": "sort",
    "seq_length": 4,
    "vocab_size": 10,
    "model_size": "1_2_16",
    "max_steps": 6,
    "batch_size": 16,
    "eval_every_steps": 6,
    "eval_samples": 32,
    "save_every_steps": 6,
}


def _compare(out: Path, seeds: list[int], pretrain_dir: Path) -> Path:
    spec = {
        "title": f"seeds {seeds}",
        "seeds": seeds,
        "downstream": DOWNSTREAM,
        "arms": [{"name": "scratch"}, {"name": "sort", "pretrain": dict(PRETRAIN), "transfer": "attn"}],
        "paper": {"scratch": {"published_accuracy": 59.1}},
    }
    run_comparison(parse_comparison(spec), out, pretrain_dir=pretrain_dir)
    return out


@pytest.fixture(scope="module")
def two_calls(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Seeds 0 and 1 of one comparison, run as two calls sharing one pretraining, and the folder they are in."""
    root = tmp_path_factory.mktemp("pool")
    shared = root / "pretrain"
    return _compare(root / "a", [0], shared), _compare(root / "b", [1], shared), root


def test_pooled_means_are_the_runs_own_numbers(two_calls):
    a, b, root = two_calls
    pooled = pool_reports([a, b / "report.json"], root / "pooled")
    for arm in ("scratch", "sort"):
        files = [
            json.loads((d / "runs" / arm / f"seed-{s}" / "test_metrics.json").read_text()) for d, s in ((a, 0), (b, 1))
        ]
        stat = pooled["summary"][arm]["metrics"]["published_accuracy"]
        assert stat["n"] == 2 and stat["values"] == [f["published_accuracy"] for f in files]
        assert stat["mean"] == pytest.approx(np.mean(stat["values"]))
        assert stat["std"] == pytest.approx(np.std(stat["values"], ddof=1))
    markdown = (root / "pooled" / "pooled.md").read_text()
    acc = pooled["summary"]["sort"]["metrics"]["published_accuracy"]
    assert f"{100 * acc['mean']:.2f} ± {100 * acc['std']:.2f}" in markdown
    gain = 100 * (acc["mean"] - pooled["summary"]["scratch"]["metrics"]["published_accuracy"]["mean"])
    assert f"| sort | published_accuracy | {gain:+.2f} |" in markdown
    assert (root / "pooled" / "final.png").stat().st_size > 0
    only = pool_reports([a, b], root / "only", arms=["sort"])
    assert list(only["summary"]) == ["sort"] and only["effects"] == []
    against_sort = pool_reports([a, b], root / "against-sort", baseline="sort")
    assert [row["arm"] for row in against_sort["effects"]] == ["scratch"]


def test_pooling_refuses_mixes_that_are_not_seeds_of_one_arm(two_calls, tmp_path):
    a, b, root = two_calls
    with pytest.raises(ConfigError, match="arm scratch seed 0 is in both"):
        pool_reports([a, a], tmp_path / "dup")
    other = json.loads((b / "report.json").read_text())
    other["downstream"] = {**other["downstream"], "max_steps": 7}
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(ConfigError, match="different downstream settings.*max_steps: 6 vs 7"):
        pool_reports([a, tmp_path / "other.json"], tmp_path / "x")
    moved = json.loads((b / "report.json").read_text())  # the same arm name, transferred from another model
    for run in moved["runs"]:
        if run["transfer"]:
            run["transfer"]["plan"] = {"attn": "elsewhere/sort/checkpoint-6"}
    (tmp_path / "replayed.json").write_text(json.dumps(moved))  # the same pretraining, replayed elsewhere
    assert (
        pool_reports([a, tmp_path / "replayed.json"], tmp_path / "r")["summary"]["sort"]["metrics"]["steps"]["n"] == 2
    )
    pretraining = next(t for t in moved["timings"] if t["stage"] == "pretrain")
    pretraining["metrics"]["loss"] += 1e-9  # ... but it validated differently: another model
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    with pytest.raises(
        ConfigError, match="records of those pretrainings differ.*same torch_threads.*different models under one name"
    ):
        pool_reports([a, tmp_path / "moved.json"], tmp_path / "y")
    for run in moved["runs"]:  # a checkpoint no pretraining record matches counts by its path
        if run["transfer"]:
            run["transfer"]["plan"] = {"attn": "elsewhere/other/checkpoint-6"}
    (tmp_path / "unrecorded.json").write_text(json.dumps(moved))
    with pytest.raises(ConfigError, match="different models under one name"):
        pool_reports([a, tmp_path / "unrecorded.json"], tmp_path / "u")
    with pytest.raises(ConfigError, match="no arm ecaa in these reports; their arms: scratch, sort"):
        pool_reports([a], tmp_path / "z", arms=["ecaa"])
    with pytest.raises(ConfigError, match="--baseline scrach is not a pooled arm; the pooled arms: scratch, sort"):
        pool_reports([a], tmp_path / "v", baseline="scrach")
    with pytest.raises(ConfigError, match="no comparison report at"):
        pool_reports([tmp_path / "nothing"], tmp_path / "w")


def test_cli_pool_prints_the_table_and_errors_in_one_line(two_calls, tmp_path):
    a, b, _ = two_calls
    result = CliRunner().invoke(main, ["pool", str(a), str(b), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "## Per seed" in result.output and "pooled report:" in result.output
    bad = CliRunner().invoke(main, ["pool", str(a), str(a), "--out", str(tmp_path / "q")])
    assert bad.exit_code != 0 and "Traceback" not in bad.output and "seed 0 is in both" in bad.output


def test_a_reproduce_report_gives_its_comparison_of_the_shared_setting(two_calls, tmp_path):
    a, b, _ = two_calls
    seed_0 = json.loads((a / "report.json").read_text())
    other_task = {**seed_0, "downstream": {**seed_0["downstream"], "task": "sorting_4"}}
    reproduce = {
        "finding": "2",
        "comparisons": [
            {"task": "sorting_4", "dir": "x", "report": other_task},
            {"task": "forwardaddition_2", "dir": str(a), "report": seed_0},
        ],
    }
    (tmp_path / "reproduce.json").write_text(json.dumps(reproduce))
    pooled = pool_reports([tmp_path / "reproduce.json", b], tmp_path / "p")
    stat = pooled["summary"]["scratch"]["metrics"]["published_accuracy"]
    direct = pool_reports([a, b], tmp_path / "direct")["summary"]["scratch"]["metrics"]["published_accuracy"]
    assert stat["values"] == direct["values"] and stat["n"] == 2
    assert pooled["sources"] == [f"{tmp_path / 'reproduce.json'} (forwardaddition_2)", str(b / "report.json")]
    with pytest.raises(ConfigError, match="share several downstream settings"):
        pool_reports([tmp_path / "reproduce.json", tmp_path / "reproduce.json"], tmp_path / "q")
    (tmp_path / "sorting.json").write_text(json.dumps({**other_task, "downstream": {"task": "sorting_9"}}))
    with pytest.raises(ConfigError, match="no downstream setting is in every one.*forwardaddition_2"):
        pool_reports([tmp_path / "reproduce.json", tmp_path / "sorting.json"], tmp_path / "r")


def test_a_pool_grows_by_pooling_it_with_new_seeds(two_calls, tmp_path):
    a, b, _ = two_calls
    pool_reports([a], tmp_path / "first")
    grown = pool_reports([tmp_path / "first", b], tmp_path / "grown")  # the folder `procpre pool` wrote
    direct = pool_reports([a, b], tmp_path / "direct")
    for arm in ("scratch", "sort"):
        assert grown["summary"][arm]["metrics"] == direct["summary"][arm]["metrics"]
    assert [r["source"] for r in grown["runs"]] == [r["source"] for r in direct["runs"]]  # each run's own report
    assert "pooled: seeds [0]" in (tmp_path / "grown" / "pooled.md").read_text()
    with pytest.raises(ConfigError, match=f"arm scratch seed 0 is in both {tmp_path / 'first' / 'pooled.json'}"):
        pool_reports([tmp_path / "first", a], tmp_path / "twice")
