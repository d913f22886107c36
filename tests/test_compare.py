"""Downstream stage, evaluate metric modules, comparisons and reproduction reports on tiny budgets."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

from procpre.checkpoint import RUN_META
from procpre.cli import main
from procpre.compare import parse_comparison, run_comparison, select_arms
from procpre.config import ConfigError
from procpre.metrics import load_metric
from procpre.reproduce import finding_comparisons, reproduce

TINY = {
    "model_size": "1_2_16",
    "batch_size": 32,
    "max_steps": 12,
    "lr": 3e-3,
    "eval_every_steps": 6,
    "eval_samples": 64,
    "save_every_steps": 12,
    "test_size": 100,
}


def test_metric_modules_load_through_evaluate_and_agree():
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 3, (20, 7))
    ref = rng.integers(0, 3, (20, 7))
    mask = rng.random((20, 7)) < 0.5
    result = load_metric("sequence_accuracy").compute(
        predictions=pred.tolist(), references=ref.tolist(), mask=mask.astype(np.int8).tolist()
    )
    right = (pred == ref) & mask
    assert result["accuracy"] == pytest.approx(right.sum() / mask.sum())
    assert result["exact_match"] == pytest.approx(np.mean([(r | ~m).all() for r, m in zip(right, mask)]))
    ppl = load_metric("perplexity_from_loss").compute(loss_sums=[3.0, 1.0], token_counts=[2, 2])
    assert ppl["perplexity"] == pytest.approx(math.exp(1.0))
    with pytest.raises(ValueError, match="unknown metric"):
        load_metric("bleu")


SORT_PRETRAINING = {
    "task": "sort",
    "seq_length": 4,
    "vocab_size": 10,
    "model_size": "1_2_16",
    "max_steps": 10,
    "batch_size": 16,
    "eval_every_steps": 5,
    "eval_samples": 32,
    "save_every_steps": 10,
}


def _comparison(tmp_path: Path) -> dict:
    return {
        "title": "tiny",
        "seeds": [0, 1],
        "downstream": {"task": "forwardaddition_2", **TINY},
        "arms": [
            {"name": "scratch"},
            {
                "name": "sort",
                "pretrain": dict(SORT_PRETRAINING),
                "transfer": "attn,ffn",
                "embedding_init": "average",
            },
            {
                "name": "sort-substitutive",
                "pretrain": {"name": "sort", **SORT_PRETRAINING},  # the same run as arm sort's, trained once
                "transfer": "attn",
                "freeze": "attn",
                "budget": "substitutive",
            },
        ],
        "paper": {"scratch": {"published_accuracy": 59.1}},
    }


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+", text)]


def test_compare_end_to_end_numbers_come_from_the_runs(tmp_path):
    report = run_comparison(parse_comparison(_comparison(tmp_path)), tmp_path / "cmp")
    out = tmp_path / "cmp"
    for name in ("report.md", "report.json", "curves.png", "final.png"):
        assert (out / name).exists(), name
    summary = report["summary"]
    assert set(summary) == {"scratch", "sort", "sort-substitutive"}
    # each table cell is the mean of the runs' own test_metrics.json files
    for arm, info in summary.items():
        files = [json.loads((out / "runs" / arm / f"seed-{s}" / "test_metrics.json").read_text()) for s in (0, 1)]
        for metric, stat in info["metrics"].items():
            assert stat["mean"] == pytest.approx(np.mean([f[metric] for f in files]))
    markdown = (out / "report.md").read_text()
    acc = summary["sort"]["metrics"]["accuracy"]
    assert f"{100 * acc['mean']:.2f} ± {100 * acc['std']:.2f}" in markdown
    for arm in summary:  # and each seed's own figures are shown too
        for seed in (0, 1):
            test = json.loads((out / "runs" / arm / f"seed-{seed}" / "test_metrics.json").read_text())
            assert (
                f"| {arm} | {seed} | {100 * test['published_accuracy']:.2f} | {100 * test['accuracy']:.2f} |"
                in markdown
            )
    gap = 100 * summary["scratch"]["metrics"]["published_accuracy"]["mean"] - 59.1
    assert f"{gap:+.1f}" in markdown
    # the pretraining ran once and both arms used it; the substitutive arm trained fewer downstream steps
    assert (out / "pretrain" / "sort").is_dir() and not (out / "pretrain" / "sort-substitutive").exists()
    assert summary["sort"]["procedural_tokens"] > 0
    # its convergence is shown from its own metrics file: validation accuracy halfway (step 5 of 10) and at the end
    evals = [json.loads(line) for line in (out / "pretrain" / "sort" / "metrics.jsonl").read_text().splitlines()]
    at = {r["step"]: r["val_accuracy"] for r in evals if "val_accuracy" in r}
    assert f"| {at[10]:.4f} | {at[5]:.4f} (5) |" in markdown
    # and the CPU threads it trained with, from its checkpoint's metadata (a CPU retrain matches only at that count)
    threads = json.loads((out / "pretrain" / "sort" / "checkpoint-10" / RUN_META).read_text())["torch_threads"]
    assert threads >= 1 and f"(5) | {evals[-1]['val_loss']:.4f} | {threads} |" in markdown
    assert summary["sort-substitutive"]["semantic_tokens"] < summary["scratch"]["semantic_tokens"]
    card = (out / "runs" / "sort" / "seed-0" / "checkpoint-12" / "README.md").read_text()
    assert "transferred from" in card


def test_bad_comparisons_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="arms"):
        parse_comparison({"downstream": {"task": "sorting_4"}, "arms": []})
    with pytest.raises(ConfigError, match="unknown key"):
        parse_comparison({"downstream": {"task": "sorting_4"}, "arms": [{"name": "a", "colour": 1}]})
    with pytest.raises(ConfigError, match="each arm must be a mapping such as `- name: scratch`, got 'scratch'"):
        parse_comparison({"downstream": {"task": "sorting_4"}, "arms": ["scratch"]})
    for seeds in (3, ["a"], [], [-1], [True]):
        with pytest.raises(ConfigError, match=r"'seeds' must be a list of seeds such as \[0, 1, 2\]"):
            parse_comparison({"downstream": {"task": "sorting_4"}, "seeds": seeds, "arms": [{"name": "a"}]})
    with pytest.raises(ConfigError, match="unknown recipe key"):
        parse_comparison({"downstream": {"task": "sorting_4", "lr_rate": 1}, "arms": [{"name": "a"}]})
    two_sorts = _comparison(tmp_path)
    two_sorts["arms"][2]["pretrain"]["max_steps"] = 20  # same name, another run: it would silently reuse arm sort's
    with pytest.raises(
        ConfigError, match="arms 'sort' and 'sort-substitutive' describe pretraining 'sort' with different"
    ):
        parse_comparison(two_sorts)
    arm_cases = [
        ({"pretrain": "dyck"}, "'pretrain' must be a mapping"),
        ({"mix": ["attn"]}, "'mix' must be a mapping"),
        ({"mix": {"attn": {"name": "s", "pretrain": "dyck"}}}, "needs 'name' (a string) and 'pretrain'"),
        ({"transfer": "atn"}, "arm 'a': unknown component"),
        ({"freeze": "mlp"}, "arm 'a': unknown component"),
        ({"embedding_init": "avrage"}, "'embedding_init' must be one of average"),
        ({"downstream": {"lr_rate": 1}}, "unknown recipe key"),
        ({"pretrain": {"task": "sort", "max_steps": 0}}, "'max_steps' must be an integer >= 1"),
    ]
    for extra, message in arm_cases:  # each fails before anything trains, not when its arm's turn comes
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_comparison(
                {"downstream": {"task": "sorting_4"}, "arms": [{"name": "scratch"}, {"name": "a", **extra}]}
            )
    comparison_cases = [
        ({"arms": [{"transfer": "attn"}]}, "every arm needs a 'name'"),
        ({"downstream": {"lr": 1e-3}}, "that names its 'task'"),
        ({"seeds": [0, 0]}, "lists a seed twice"),
        ({"paper": {"scratch": 11.3}}, "'paper' must map arm -> {metric: figure}"),
        ({"notes": "one note"}, "'notes' must be a list of strings"),
    ]
    for changes, message in comparison_cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_comparison({"downstream": {"task": "sorting_4"}, "arms": [{"name": "scratch"}], **changes})
    recipe = tmp_path / "two_sorts.yaml"
    recipe.write_text(yaml.safe_dump(_comparison(tmp_path)))
    result = CliRunner().invoke(main, ["compare", str(recipe), "--out", str(tmp_path / "o"), "--arms", "sort,srot"])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "--arms names ['srot']; this comparison's arms are scratch, sort, sort-substitutive" in result.output
    picked = select_arms(parse_comparison(_comparison(tmp_path)), ["sort-substitutive", "scratch"])
    assert [arm.name for arm in picked.arms] == ["scratch", "sort-substitutive"]  # the file's order
    for seeds in ("0", "-1"):
        result = CliRunner().invoke(main, ["compare", "missing.yaml", "--seeds", seeds])
        assert result.exit_code == 2 and "--seeds" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(
        main,
        [
            "downstream",
            "algorithmic",
            "--task",
            "sorting_4",
            "--pretrained",
            str(tmp_path / "missing"),
            "--transfer",
            "attn",
        ],
    )
    assert result.exit_code != 0 and "does not exist" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["downstream", "algorithmic", "--task", "sorting_4", "--transfer", "mlp"])
    assert result.exit_code != 0 and "unknown component" in result.output


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message a machine without a GPU gives")
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["reproduce", "1", "--device", "cuda"], "--device cuda: no CUDA GPU is visible"),
        (["bench", "train", "--device", "cuda"], "--device cuda: no CUDA GPU is visible"),
        (["bench", "train", "--mixed-precision", "fp16", "--steps", "1"], "'mixed_precision' fp16 needs a GPU"),
    ],
)
def test_a_device_or_precision_the_machine_lacks_is_refused(tmp_path, args, expected):
    """Not a silent float32 CPU run under a GPU label."""
    result = CliRunner().invoke(main, [*args, *(["--out", str(tmp_path / "r")] if args[0] == "reproduce" else [])])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: ")
    assert expected in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_a_finished_run_is_reused_only_for_the_budget_it_trained(tmp_path):
    """A constant-LR run may be extended; raising max_steps trains on and scores the longer run."""
    spec = {"downstream": {"task": "sorting_4", **TINY, "lr_schedule": "constant", "max_steps": 6}, "arms": []}
    spec["arms"] = [{"name": "scratch"}]
    first = run_comparison(parse_comparison(spec), tmp_path / "cmp")
    assert first["summary"]["scratch"]["metrics"]["steps"]["values"] == [6.0]
    spec["downstream"]["max_steps"] = 9
    longer = run_comparison(parse_comparison(spec), tmp_path / "cmp")
    assert longer["summary"]["scratch"]["metrics"]["steps"]["values"] == [9.0]
    run = json.loads((tmp_path / "cmp" / "report.json").read_text())["runs"][0]
    assert Path(run["run_dir"], "checkpoint-9").is_dir()


def test_a_resumed_stage_reports_its_loop_time_over_all_calls():
    """Its loop ran partly in earlier calls: more loop time than this call's wall time gives that away."""
    from procpre.compare import _stage_time

    assert _stage_time(2.0, 5.0) == {"seconds": 5.0, "resumed": True, "loop_seconds": 5.0}
    assert _stage_time(6.0, 5.0) == {"seconds": 6.0, "loop_seconds": 5.0}
    assert _stage_time(6.0, None) == {"seconds": 6.0, "loop_seconds": None}


def test_every_finding_builds_valid_comparisons():
    for finding in ("1", "2", "3", "4", "5", "6"):
        for scale in ("smoke", "full"):
            for spec in finding_comparisons(finding, scale, [0]):
                parse_comparison(spec)
    with pytest.raises(ConfigError, match="unknown finding"):
        finding_comparisons("7", "smoke", [0])


def test_every_paper_figure_is_compared_by_some_finding():
    """A figure in PAPER that no arm carries would never reach a report."""
    from procpre.reproduce import PAPER

    shown = {
        (spec["title"].split(":")[0], arm)
        for finding in ("1", "2", "3", "4", "5", "6")
        for spec in finding_comparisons(finding, "full", [0])
        for arm in spec["paper"]
    }
    assert shown == {(key, arm) for key, figures in PAPER.items() for arm in figures}


@pytest.fixture
def tiny_smoke(monkeypatch):
    """Seconds, not minutes: shrink the smoke budget further for the tests."""
    from procpre import reproduce as rep

    monkeypatch.setattr(
        rep,
        "SMOKE_DOWNSTREAM",
        {
            **rep.SMOKE_DOWNSTREAM,
            "max_steps": 6,
            "save_every_steps": 6,
            "eval_every_steps": 3,
            "test_size": 50,
            "batch_size": 16,
        },
    )
    real = rep._pretrain

    def quick(name, scale, model_size="2_4_16"):
        return {**real(name, scale, model_size), "max_steps": 6, "save_every_steps": 6, "eval_every_steps": 3}

    monkeypatch.setattr(rep, "_pretrain", quick)


def test_reproduce_smoke_report(tmp_path, tiny_smoke):
    path = reproduce("3", "smoke", tmp_path / "r", seeds=1)
    text = path.read_text()
    assert "NOT expected" in text and "paper (%)" in text and "98.1" in text
    assert "SET is pretrained on 8 values" in text  # a measured choice says why, in the report itself
    assert "## Effect of pretraining" in text and "| set | published_accuracy |" in text
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    summary = data["comparisons"][0]["report"]["summary"]
    run_dir = Path(summary["set"]["metrics"] and data["comparisons"][0]["dir"]) / "runs" / "set" / "seed-0"
    test = json.loads((run_dir / "test_metrics.json").read_text())
    assert f"| {100 * test['published_accuracy']:.2f} | {100 * test['accuracy']:.2f} |" in text  # one seed: no ±
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert history[-1]["step"] == 6
    # what each arm started from is read from the run's own record of its transfer
    copied = json.loads((run_dir / "checkpoint-6" / "procpre_run.json").read_text())["transfer"]["copied"]
    assert f"| set | attn ({copied['attn']:,}) | attn ← set-2_4_16/checkpoint-6 | fresh | - |" in text
    assert "| scratch | nothing: trained from scratch | - | fresh | - |" in text


def test_release_style_downstream_yaml(tmp_path):
    from procpre.modeling import build_model
    from procpre.tasks import get_task

    build_model("1_2_16", get_task("sort", seq_length=4, vocab_size=10)).save_pretrained(tmp_path / "pre")
    recipe = tmp_path / "down.yaml"
    recipe.write_text(
        "task: sorting_4\nvocab: 8\ngpt2_size: '1_2_16'\nbatch_size: 16\nmax_steps: 4\nlr: 1.0e-3\n"
        "eval_size: 100\neval_every_steps: 4\neval_samples: 32\nsave_every_steps: 4\n"
        f"save_dir: {tmp_path / 'run'}\npretrained_model_path: {tmp_path / 'pre'}\n"
        "weights_to_be_transferred: [attn, ffn]\nweights_to_be_trained: [ffn, ln, embed]\n"
        "embedding_init_strategy: average\n"
    )
    result = CliRunner().invoke(main, ["downstream", "algorithmic", "--config", str(recipe)])
    assert result.exit_code == 0, result.output
    assert "transfer: attn from" in result.output and "frozen attn" in result.output
    meta = json.loads((tmp_path / "run" / "checkpoint-4" / "procpre_run.json").read_text())
    assert meta["transfer"]["frozen"] == {"attn": meta["transfer"]["copied"]["attn"]}
    test = json.loads((tmp_path / "run" / "test_metrics.json").read_text())
    assert {"published_accuracy", "accuracy", "exact_match"} <= set(test)


def test_rerun_reuses_finished_runs_and_reports_their_recorded_time(tmp_path):
    spec = _comparison(tmp_path)
    spec["arms"] = spec["arms"][:2]
    spec["seeds"] = [0]
    first = run_comparison(parse_comparison(spec), tmp_path / "cmp")
    checkpoint = tmp_path / "cmp" / "runs" / "sort" / "seed-0" / "checkpoint-12"
    before = checkpoint.stat().st_mtime_ns
    second = run_comparison(parse_comparison(spec), tmp_path / "cmp")
    assert checkpoint.stat().st_mtime_ns == before  # nothing retrained
    recorded = json.loads((checkpoint / "procpre_run.json").read_text())["train_seconds"]
    reused = {(t["stage"], t["arm"]): t for t in second["timings"]}
    assert reused[("downstream", "sort")] == {
        "stage": "downstream",
        "arm": "sort",
        "seed": 0,
        "seconds": recorded,
        "reused": True,
        "loop_seconds": recorded,
    }
    assert all(t.get("reused") for t in second["timings"]) and not any(t.get("reused") for t in first["timings"])
    assert f"{recorded:.1f} (earlier run, reused)" in (tmp_path / "cmp" / "report.md").read_text()

    # a moved (copied) pretraining is the same source: its downstream runs are still reused
    shutil.copytree(tmp_path / "cmp" / "pretrain", tmp_path / "moved")
    third = run_comparison(parse_comparison(spec), tmp_path / "cmp", pretrain_dir=tmp_path / "moved")
    assert all(t.get("reused") for t in third["timings"]) and checkpoint.stat().st_mtime_ns == before
    # the recipe changed: the finished runs are not the runs it asks for, so nothing is reused or reported
    report = (tmp_path / "cmp" / "report.md").read_text()
    spec["arms"][1]["transfer"] = "attn"
    with pytest.raises(
        ConfigError,
        match=r"runs/sort/seed-0 holds a run with other settings \(transfer: \['attn', 'ffn'\] -> \['attn'\];",
    ):
        run_comparison(parse_comparison(spec), tmp_path / "cmp")
    spec["arms"][1]["transfer"] = "attn,ffn"
    spec["arms"][1]["pretrain"]["max_steps"] = 6  # its pretraining would be the longer one already there
    with pytest.raises(ConfigError, match=r"pretrain/sort.*step: the checkpoint is at step 10, past max_steps 6"):
        run_comparison(parse_comparison(spec), tmp_path / "cmp")
    assert (tmp_path / "cmp" / "report.md").read_text() == report and checkpoint.stat().st_mtime_ns == before


def test_a_mix_arm_is_reused_only_with_the_same_sources(tmp_path):
    """The components an arm takes from each pretraining are part of its run, like its recipe."""
    sort = {"name": "sort", "pretrain": dict(SORT_PRETRAINING)}
    spec = {
        "seeds": [0],
        "downstream": {"task": "forwardaddition_2", **TINY},
        "arms": [{"name": "mixed", "transfer": "", "mix": {"attn": sort, "ffn": sort}}],
    }
    first = run_comparison(parse_comparison(spec), tmp_path / "cmp")
    assert first["runs"][0]["test"]
    spec["arms"][0]["mix"] = {"attn": sort}  # same arm name, now without the MLP
    with pytest.raises(ConfigError, match=r"ffn transferred from: '.*pretrain/sort/checkpoint-10' -> None"):
        run_comparison(parse_comparison(spec), tmp_path / "cmp")


def test_reproduce_pushes_every_model_to_the_hub(tmp_path, tiny_smoke, hub):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    prefix = hub.repo_id("f3")
    reproduce("3", "smoke", tmp_path / "r", seeds=1, push_to_hub=prefix)
    local = {
        f"{prefix}-pretrain-set-2_4_16": tmp_path / "r" / "pretrain" / "set-2_4_16" / "checkpoint-6",
        f"{prefix}-sorting_10-scratch-seed0": tmp_path / "r" / "sorting_10" / "runs" / "scratch" / "seed-0",
        f"{prefix}-sorting_10-set-seed0": tmp_path / "r" / "sorting_10" / "runs" / "set" / "seed-0",
    }
    hub.clear_cache()
    for repo_id, folder in local.items():
        checkpoint = folder if folder.name.startswith("checkpoint-") else max(folder.glob("checkpoint-*"))
        model = AutoModelForCausalLM.from_pretrained(repo_id)
        expected = load_file(checkpoint / "model.safetensors")
        pulled = model.state_dict()
        assert all(torch.equal(pulled[name], value) for name, value in expected.items()), repo_id
        assert "README.md" in hub.api.list_repo_files(repo_id)
    # and the data: the test set exactly as scored, the validation sets the runs evaluated on
    import datasets

    from procpre.config import load_config
    from procpre.data import fixed_test_set, generate

    spec = finding_comparisons("3", "smoke", [0])[0]
    sorting = load_config(None, spec["downstream"]).build_task()
    test = datasets.load_dataset(f"{prefix}-data", "sorting_10-seed0", split="test")
    assert np.array_equal(np.array(test["input_ids"]), fixed_test_set(sorting, 0).input_ids)
    scored = json.loads((local[f"{prefix}-sorting_10-set-seed0"] / "test_metrics.json").read_text())
    assert test.num_rows == scored["test_samples"]
    recipe = json.loads((local[f"{prefix}-pretrain-set-2_4_16"] / "procpre_run.json").read_text())["config"]
    set_task = load_config(None, {"task": "set", **recipe["task_params"]}).build_task()
    validation = datasets.load_dataset(f"{prefix}-data", "set-2_4_16", split="validation")
    expected_validation = generate(set_task, recipe["seed"], "validation", 0, recipe["eval_samples"])
    assert np.array_equal(np.array(validation["input_ids"]), expected_validation.input_ids)


def test_a_failed_comparison_push_keeps_every_run_and_says_how_to_retry(tmp_path, monkeypatch):
    import huggingface_hub.constants
    import yaml

    import procpre.hub

    recipe = tmp_path / "cmp.yaml"
    recipe.write_text(
        yaml.safe_dump({"seeds": [0], "downstream": {"task": "sorting_4", **TINY}, "arms": [{"name": "scratch"}]})
    )
    out = tmp_path / "out"
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:1")
    monkeypatch.setattr(procpre.hub.time, "sleep", lambda seconds: None)
    args = ["compare", str(recipe), "--out", str(out), "--push-to-hub", "test-user/unreachable"]
    result = CliRunner().invoke(main, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and lines[-1].startswith("Error: ") and "Traceback" not in result.output
    assert f"Every run is saved under {out}; run the same command again to retry the push" in lines[-1]
    assert (out / "runs" / "scratch" / "seed-0" / "test_metrics.json").is_file()


def test_several_comparison_files_run_as_one_job_sharing_their_pretraining(tmp_path):
    """Two downstream tasks transferring from one pretraining: each file reported in OUT/<name>, SORT trained once."""
    addition = _comparison(tmp_path)
    addition["arms"] = addition["arms"][:2]
    sorting = {**addition, "downstream": {**addition["downstream"], "task": "sorting_4"}, "arms": addition["arms"][1:]}
    files = []
    for name, spec in (("addition", addition), ("sorting", sorting)):
        files.append(tmp_path / f"{name}.yaml")
        files[-1].write_text(yaml.safe_dump(spec))
    out = tmp_path / "both"
    result = CliRunner().invoke(main, ["compare", *map(str, files), "--out", str(out), "--seeds", "1"])
    assert result.exit_code == 0, result.output
    assert f"report: {out / 'addition' / 'report.md'}" in result.output
    reports = {n: json.loads((out / n / "report.json").read_text()) for n in ("addition", "sorting")}
    assert list(reports["addition"]["summary"]) == ["scratch", "sort"]
    assert list(reports["sorting"]["summary"]) == ["sort"]
    assert reports["sorting"]["seeds"] == [0] and reports["sorting"]["downstream"]["task"] == "sorting_4"
    assert [p.name for p in (out / "pretrain").iterdir()] == ["sort"]
    # the pretraining ran in the first comparison and was reused, as recorded, by the second
    stages = {n: {t["arm"]: t for t in r["timings"] if t["stage"] == "pretrain"} for n, r in reports.items()}
    assert not stages["addition"]["sort"].get("reused") and stages["sorting"]["sort"].get("reused")
    twin = tmp_path / "elsewhere" / "addition.yaml"
    twin.parent.mkdir()
    shutil.copy(files[0], twin)
    result = CliRunner().invoke(main, ["compare", str(files[0]), str(twin), "--out", str(out)])
    assert result.exit_code != 0 and "share a file name" in result.output and "Traceback" not in result.output


def test_speed_settings_reach_every_stage_of_a_finding() -> None:
    from procpre.reproduce import finding_comparisons, with_speed_settings

    for spec in finding_comparisons("5", "smoke", [0]):
        fast = with_speed_settings(spec, {"torch_compile": "reduce-overhead"})
        stages = [fast["downstream"]]
        for arm in fast["arms"]:
            stages += [arm["pretrain"]] if "pretrain" in arm else []
            stages += [entry["pretrain"] for entry in arm.get("mix", {}).values()]
        assert len(stages) == 3  # downstream, SET attention source, ECA MLP source
        assert all(stage["torch_compile"] == "reduce-overhead" for stage in stages)
        assert "torch_compile" not in spec["downstream"]  # the input is left unchanged
        parse_comparison(fast)  # still a valid comparison


SHIPPED_RECIPES = sorted((Path(__file__).resolve().parent.parent / "recipes").rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED_RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_recipe_is_valid(path: Path) -> None:
    """Recipes in recipes/ are what the README tells people to run: each must load as what it claims to be."""
    from procpre.compare import load_comparison
    from procpre.config import load_config

    if path.parent.name == "compare":
        comparison = load_comparison(path)
        assert comparison.arms and comparison.downstream["task"]
    else:
        config = load_config(path)
        assert config.build_task().length > 0


def test_mean_curves_use_only_the_steps_every_seed_reached():
    """A seed that stopped early must not leave the survivors' values standing in for the arm's mean."""
    from procpre.report import data_efficiency

    def run(arm, seed, losses):
        return {
            "arm": arm,
            "seed": seed,
            "history": [{"step": 10 * (i + 1), "val_loss": v} for i, v in enumerate(losses)],
        }

    runs = [run("scratch", 0, [3.0, 2.0, 1.0]), run("scratch", 1, [3.0, 2.0]), run("pre", 0, [2.0, 1.5])]
    # the baseline's mean curve ends at step 20 (2.0), not at seed 0's step 30 (1.0)
    assert data_efficiency(runs, "scratch") == {"scratch": 1.0, "pre": 0.5}


def test_effect_verdicts_compare_our_gain_with_the_papers():
    from procpre.report import effects

    def arm(values):
        stat = {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
        return {"metrics": {"published_accuracy": {**stat, "n": len(values)}}}

    summary = {
        "scratch": arm([0.4001]),
        "eca": arm([0.5406]),  # +14.05 against the paper's +10.5: reproduced
        "weak": arm([0.45]),  # +4.99, under half of +10.5: smaller
        "worse": arm([0.35]),  # opposite sign
        "unpublished": arm([0.5]),  # no paper figure: gain only
    }
    paper = {
        "scratch": {"published_accuracy": 59.1},
        **{a: {"published_accuracy": 69.6} for a in ("eca", "weak", "worse")},
    }
    rows = {r["arm"]: r for r in effects(summary, paper, "scratch")}
    assert rows["eca"]["gain"] == pytest.approx(14.05) and rows["eca"]["paper_gain"] == pytest.approx(10.5)
    assert [rows[a]["verdict"] for a in ("eca", "weak", "worse", "unpublished")] == [
        "reproduced",
        "smaller",
        "not reproduced",
        None,
    ]
    spread = {"scratch": arm([0.20, 0.95, 0.54]), "eca": arm([0.40, 0.50, 0.46])}  # finding 2, reversed addition
    (row,) = effects(spread, {"scratch": {"published_accuracy": 76.4}, "eca": {"published_accuracy": 91.0}}, "scratch")
    assert row["verdict"] == "not reproduced, within seed spread"
    control = {"scratch": arm([0.20, 0.95, 0.54]), "shuffled": arm([0.35, 0.60, 0.45])}  # no paper figure
    (row,) = effects(control, {"scratch": {"published_accuracy": 76.4}}, "scratch")
    assert row["paper_gain"] is None and row["verdict"] == "within seed spread"


def test_effects_count_the_seeds_an_arm_is_ahead_level_or_behind():
    """Finding 2's forward addition, seeds 0-2: +8.8 on average is two seeds ahead and one behind."""
    from procpre.report import effects, effects_table, summarise

    def runs(arm, values):
        return [{"arm": arm, "seed": s, "test": {"published_accuracy": v}, **tokens} for s, v in values.items()]

    tokens = {"procedural_tokens": 0, "semantic_tokens": 0, "budget": "additive"}
    summary = summarise(
        runs("scratch", {0: 0.4018, 1: 0.5359, 2: 0.5295, 3: 0.90})
        + runs("eca", {0: 0.5271, 1: 0.5147, 2: 0.6897})  # no seed 3: only paired seeds count
        + runs("tie", {0: 0.4023, 1: 0.5359})  # within LEVEL_POINTS (0.05 and 0 points)
    )
    rows = {r["arm"]: r for r in effects(summary, {}, "scratch")}
    assert rows["eca"]["seeds"] == {"ahead": 2, "level": 0, "behind": 1}
    assert rows["tie"]["seeds"] == {"ahead": 0, "level": 2, "behind": 0}
    table = effects_table(list(rows.values()), "scratch")
    assert "| 2 ahead, 1 behind (of 3) |" in table and "| 2 level (of 2) |" in table


def test_a_finding_on_two_processes_pools_its_comparisons(tmp_path, tiny_smoke):
    """Finding 2's two comparisons share one ECA pretraining: one pool trains it once and runs all four arms."""
    reproduce("2", "smoke", tmp_path / "r", seeds=1, jobs=2)
    assert [p.name for p in (tmp_path / "r" / "pretrain").iterdir()] == ["eca-2_4_16"]
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [c["task"] for c in data["comparisons"]] == ["additionstream_10", "forwardaddition_5"]
    for comparison in data["comparisons"]:
        stages = {(t["stage"], t["arm"]): t for t in comparison["report"]["timings"]}
        assert set(stages) == {("pretrain", "eca-2_4_16"), ("downstream", "scratch"), ("downstream", "eca")}
        assert all(t["seconds"] > 0 and not t.get("reused") for t in stages.values()), stages  # measured in the pool
        for arm in ("scratch", "eca"):
            assert (Path(comparison["dir"]) / "runs" / arm / "seed-0" / "test_metrics.json").exists()


def test_arms_table_names_each_component_and_where_it_came_from():
    """A mixed arm lists each component beside its own checkpoint; only a transferred `embed` has an init."""
    from procpre.report import arms_table

    mixed = {
        "plan": {"attn": "r/pretrain/set-2_4_16/checkpoint-30000", "ffn": "r/pretrain/eca-2_4_16/checkpoint-8000"},
        "copied": {"attn": 2176, "ffn": 4352},
        "embedding_init": "average",
        "frozen": {"attn": 2176},
    }
    full = {
        "plan": dict.fromkeys(("attn", "ffn", "ln", "embed"), "me/dyck-model"),
        "copied": {"attn": 1, "ffn": 2, "ln": 3, "embed": 4},
        "embedding_init": "average",
        "notes": ["wpe: 64 of 128 positions copied"],
    }
    runs = [{"arm": "mix", "transfer": mixed}, {"arm": "mix", "transfer": None}, {"arm": "full", "transfer": full}]
    rows = arms_table(runs).splitlines()[2:]
    assert rows == [
        "| mix | attn (2,176), ffn (4,352) | attn ← set-2_4_16/checkpoint-30000; ffn ← eca-2_4_16/checkpoint-8000 "
        "| fresh | attn |",
        "| full | attn (1), ffn (2), ln (3), embed (4); wpe: 64 of 128 positions copied | attn, ffn, ln, embed ← "
        "me/dyck-model | average | - |",
    ]


def test_haystack_report_breaks_exact_match_down_and_backfills_older_runs(tmp_path):
    """The breakdown is the run's own test set rescored by group; a run scored without one gets it on reuse."""
    spec = {
        "title": "hay",
        "seeds": [0],
        "downstream": {"task": "condattendstream_6", **TINY},
        "arms": [{"name": "scratch"}],
    }
    out = tmp_path / "cmp"
    run_comparison(parse_comparison(spec), out)
    run = out / "runs" / "scratch" / "seed-0"
    test = json.loads((run / "test_metrics.json").read_text())
    breakdown = json.loads((run / "test_breakdown.json").read_text())
    assert breakdown["exact_match"] == pytest.approx(test["exact_match"]) and breakdown["samples"] == 100
    by_place = breakdown["groups"]["place of the queried pair (1 = first)"]
    assert sum(g["samples"] for g in by_place) == 100
    assert sum(g["samples"] * g["exact_match"] for g in by_place) == pytest.approx(100 * test["exact_match"])
    markdown = (out / "report.md").read_text()
    cells = " | ".join(f"{100 * g['exact_match']:.1f}" for g in by_place)
    assert f"| scratch | {100 * test['exact_match']:.2f} | {cells} |" in markdown
    assert (out / "errors.png").stat().st_size > 0 and "![errors.png](errors.png)" in markdown
    for path in run.rglob("test_breakdown.json"):  # as a run scored before breakdowns existed
        path.unlink()
    run_comparison(parse_comparison(spec), out)
    assert json.loads((run / "test_breakdown.json").read_text()) == breakdown


def test_cli_downstream_prints_the_breakdown_it_wrote(tmp_path):
    args = ["downstream", "algorithmic", "--task", "forwardaddition_1_2", "--model_size", "1_2_16", "--max_steps", "4"]
    args += ["--batch_size", "16", "--eval_every_steps", "4", "--eval_samples", "32", "--save_every_steps", "4"]
    args += ["--test_size", "200", "--save_dir", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "run" / "test_breakdown.json").read_text())
    carries = ", ".join(f"{g['group']} {g['exact_match']:.4f}" for g in written["groups"]["carries"])
    assert f"  exact match by carries: {carries}" in result.output
    assert [g["group"] for g in written["groups"]["digits of the longer operand"]] == ["1", "2"]
