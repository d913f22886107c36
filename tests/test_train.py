"""The training loop end to end, on tiny CPU runs: learning, checkpoints and cards, exact resume, loss
normalisation under gradient accumulation and across processes, release recipes through the CLI, Hub push/pull,
bad input and SIGINT."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner
from safetensors.torch import load_file

from procpre.checkpoint import RUN_META, TRAINER_STATE, TRAINING_STATE, list_checkpoints
from procpre.cli import main
from procpre.config import ConfigError, TrainConfig, load_config
from procpre.train import finished_checkpoint, micro_batch_range, read_history, samples, train

ROOT = Path(__file__).resolve().parent.parent
RECIPES = Path(__file__).resolve().parent / "recipes"

#: a few seconds on one CPU core
TINY: dict[str, Any] = {
    "task": "sort",
    "seq_length": 8,
    "vocab_size": 16,
    "model_size": "2_4_16",
    "batch_size": 16,
    "max_steps": 20,
    "lr": 3e-3,
    "weight_decay": 0.01,
    "log_every_steps": 1,
    "eval_every_steps": 10,
    "eval_samples": 64,
    "eval_batch_size": 64,
    "save_every_steps": 100,
    "seed": 0,
}


def tiny(save_dir: Path, **changes: Any) -> TrainConfig:
    return load_config(None, {**TINY, "save_dir": str(save_dir), **changes})


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return load_file(checkpoint / "model.safetensors")


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def read_metrics(save_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (save_dir / "metrics.jsonl").read_text().splitlines()]


def steps_of(save_dir: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in list_checkpoints(save_dir)]


def invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


# -- 1. end to end ---------------------------------------------------------------------
def test_tiny_run_learns_and_writes_a_hub_ready_checkpoint(tmp_path: Path) -> None:
    from huggingface_hub import ModelCard
    from transformers import AutoModelForCausalLM

    save_dir = tmp_path / "run"
    config = tiny(save_dir, batch_size=32, max_steps=60, log_every_steps=5, eval_every_steps=30, save_every_steps=30)
    result = train(config)

    assert result.stopped == "max_steps" and result.state.step == 60
    losses = [r["train_loss"] for r in result.history if "train_loss" in r]
    assert len(losses) == 12
    assert losses[0] - losses[-1] > 0.5, losses  # ~2.7 -> ~1.6 on sort with lr 3e-3
    assert steps_of(save_dir) == [30, 60] and result.checkpoint == save_dir / "checkpoint-60"
    assert not list(save_dir.glob(".checkpoint-*"))  # staging folders renamed away

    records = read_metrics(save_dir)
    assert records == result.history
    assert [r["step"] for r in records] == list(range(5, 61, 5))
    assert {"val_loss", "val_accuracy", "val_exact_match"} <= records[-1].keys()

    ckpt = result.checkpoint
    for name in ("config.json", "model.safetensors", "README.md", RUN_META, TRAINER_STATE, TRAINING_STATE):
        assert (ckpt / name).exists(), name
    model = AutoModelForCausalLM.from_pretrained(ckpt)
    assert (model.config.n_layer, model.config.n_head, model.config.n_embd) == (2, 4, 16)
    ids = torch.from_numpy(samples(config.build_task(), 0, "validation", 0, 4).input_ids).long()
    assert model(input_ids=ids).logits.shape == (4, ids.shape[1], model.config.vocab_size)

    meta = json.loads((ckpt / RUN_META).read_text())
    assert meta["step"] == 60 and meta["tokens_seen"] == 60 * 32 * config.build_task().length
    assert meta["metrics"] == result.state.last_metrics and meta["world_size"] == 1
    assert meta["metrics"]["loss"] == pytest.approx(records[-1]["val_loss"])
    card = ModelCard.load(ckpt / "README.md")
    card_metrics = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert card_metrics == pytest.approx(meta["metrics"], abs=1e-6)
    assert "procpre" in card.data.tags and card.data.library_name == "transformers"


# -- 2. resume -------------------------------------------------------------------------
@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path: Path, dropout: float) -> None:
    recipe = {"batch_size": 8, "dropout": dropout, "lr_schedule": "cosine", "warmup_steps": 4}
    straight = train(tiny(tmp_path / "a", **recipe))

    first = train(tiny(tmp_path / "b", **recipe), max_steps_this_call=8)
    assert first.stopped == "interrupted" and first.state.step == 8
    assert steps_of(tmp_path / "b") == [8]
    resumed = train(tiny(tmp_path / "b", resume=True, **recipe))
    assert resumed.stopped == "max_steps" and resumed.state.step == 20
    assert [r["step"] for r in resumed.history][0] == 9

    assert max_abs_diff(weights(straight.checkpoint), weights(resumed.checkpoint)) <= 1e-6
    a, b = read_metrics(tmp_path / "a"), read_metrics(tmp_path / "b")
    assert [r["step"] for r in b] == list(range(1, 21))
    for key in ("train_loss", "lr"):
        assert [r[key] for r in b] == pytest.approx([r[key] for r in a], rel=1e-6, abs=1e-9)
    assert resumed.state.tokens_seen == straight.state.tokens_seen
    assert resumed.state.last_metrics == pytest.approx(straight.state.last_metrics, rel=1e-5)


def test_pinned_cpu_threads_give_one_model_whatever_threads_the_process_has(tmp_path: Path) -> None:
    """A pool of N workers gives each cores/N threads, and CPU float sums change with the count: pinning it
    makes a recipe's model independent of `--jobs` (and of the machine's cores)."""
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one_thread = train(tiny(tmp_path / "one"))
        torch.set_num_threads(2)
        pinned = train(tiny(tmp_path / "pinned", torch_threads=1))
        assert torch.get_num_threads() == 2  # the process gets its own count back
    finally:
        torch.set_num_threads(previous)
    assert max_abs_diff(weights(one_thread.checkpoint), weights(pinned.checkpoint)) == 0.0
    meta = json.loads((pinned.checkpoint / RUN_META).read_text())
    assert meta["torch_threads"] == 1 and meta["config"]["torch_threads"] == 1


def test_resume_under_another_thread_count_goes_on_and_warns(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    train(tiny(tmp_path, torch_threads=1), max_steps_this_call=10)
    capsys.readouterr()
    resumed = train(tiny(tmp_path, torch_threads=2, resume=True))
    assert resumed.stopped == "max_steps" and resumed.state.step == 20
    assert "checkpoint-10 was trained with 1" in capsys.readouterr().out


def test_a_run_killed_past_its_last_checkpoint_logs_each_step_once(tmp_path: Path) -> None:
    """A hard kill leaves records past the last checkpoint; the resumed run trains those steps again."""
    straight = train(tiny(tmp_path / "a", save_every_steps=8))
    killed = tmp_path / "b"
    train(tiny(killed, save_every_steps=8))
    for step in (16, 20):  # as if killed at step 20 before any checkpoint after step 8 was written
        shutil.rmtree(killed / f"checkpoint-{step}")
    resumed = train(tiny(killed, save_every_steps=8, resume=True))
    assert resumed.history[0]["step"] == 9
    records = read_metrics(killed)
    assert [r["step"] for r in records] == list(range(1, 21))
    assert [r["train_loss"] for r in records] == pytest.approx([r["train_loss"] for r in straight.history], rel=1e-6)


def test_a_run_stopped_early_is_over_and_resuming_it_trains_nothing(tmp_path: Path) -> None:
    recipe = {"lr": 1.0, "patience": 1, "eval_every_steps": 2}  # diverges: the second evaluation is worse
    stopped = train(tiny(tmp_path / "early", **recipe))
    assert stopped.stopped == "early_stopping" and stopped.state.step == 4
    assert finished_checkpoint(tmp_path / "early", tiny(tmp_path, **recipe)) == stopped.checkpoint
    again = train(tiny(tmp_path / "early", resume=True, **recipe))
    assert again.stopped == "early_stopping" and again.state.step == 4 and again.history == []
    cut = train(tiny(tmp_path / "cut"), max_steps_this_call=3)
    assert cut.stopped == "interrupted" and finished_checkpoint(tmp_path / "cut", tiny(tmp_path)) is None
    assert finished_checkpoint(tmp_path / "cut", tiny(tmp_path, max_steps=3)) == cut.checkpoint


def test_history_written_before_the_fix_reads_replayed_steps_once(tmp_path: Path) -> None:
    lines = [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.9}, {"step": 3, "loss": 0.8}]
    lines += [{"step": 2, "loss": 0.7}, {"step": 3, "loss": 0.6}, {"step": 4, "loss": 0.5}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert [(r["step"], r["loss"]) for r in read_history(tmp_path)] == [(1, 1.0), (2, 0.7), (3, 0.6), (4, 0.5)]


def test_compiled_step_saves_the_plain_model_and_matches_eager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The torch.compile wrapper is transparent to saving, evaluation and resume (graphs run as eager here:
    a real compile is minutes on this CPU; the GPU benchmark measures it)."""
    monkeypatch.setattr(torch._dynamo.config, "disable", True)
    eager = train(tiny(tmp_path / "eager", max_steps=6))
    compiled = train(tiny(tmp_path / "compiled", max_steps=6, torch_compile="reduce-overhead"))
    assert max_abs_diff(weights(eager.checkpoint), weights(compiled.checkpoint)) <= 1e-6
    assert not any(k.startswith("_orig_mod") for k in weights(compiled.checkpoint))
    meta = json.loads((compiled.checkpoint / RUN_META).read_text())
    assert meta["config"]["torch_compile"] == "reduce-overhead"
    resumed = train(tiny(tmp_path / "compiled", max_steps=8, torch_compile="reduce-overhead", resume=True))
    assert resumed.state.step == 8 and resumed.history[0]["step"] == 7


def test_resume_of_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    done = train(tiny(tmp_path, max_steps=4))
    before = weights(done.checkpoint)
    again = train(tiny(tmp_path, max_steps=4, resume=True))
    assert again.state.step == 4 and steps_of(tmp_path) == [4]
    assert max_abs_diff(before, weights(again.checkpoint)) == 0.0


def test_resume_under_other_settings_is_refused_with_what_differs(tmp_path: Path) -> None:
    """A checkpoint continues only the run that made it: never an optimiser state and weights under a new recipe."""
    done = train(tiny(tmp_path / "cosine", max_steps=4, lr_schedule="cosine"))
    before = weights(done.checkpoint)
    with pytest.raises(
        ConfigError, match=r"cosine holds a run with other settings \(lr: 0.003 -> 0.01; max_steps: 4 -> 8\)"
    ):
        train(tiny(tmp_path / "cosine", max_steps=8, lr_schedule="cosine", lr=1e-2, resume=True))
    assert steps_of(tmp_path / "cosine") == [4] and max_abs_diff(before, weights(done.checkpoint)) == 0.0
    # where it is exact, a constant-LR run may be extended; logging, saving and speed settings may change
    train(tiny(tmp_path / "constant", max_steps=4))
    longer = train(tiny(tmp_path / "constant", max_steps=6, log_every_steps=2, eval_batch_size=32, resume=True))
    assert longer.state.step == 6
    result = invoke(
        "pretrain", "--resume", "--save_dir", tmp_path / "constant", *[f"--{k}={v}" for k, v in TINY.items()],
        "--max_steps", "5",
    )  # fmt: skip
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "step: the checkpoint is at step 6, past max_steps 5" in lines[0] and "a new save_dir" in lines[0]


# -- 3. loss normalisation over the whole step -------------------------------------------
def test_micro_batch_range_layout() -> None:
    config = tiny(Path("unused"), batch_size=4, gradient_accumulation_steps=3)
    world = 2
    per_step = 4 * 3 * world
    for step in (0, 1, 7):
        ranges = {(m, r): micro_batch_range(config, step, m, r, world) for m in range(3) for r in range(world)}
        covered = sorted(i for lo, hi in ranges.values() for i in range(lo, hi))
        assert covered == list(range(step * per_step, (step + 1) * per_step))  # tiles the step, no overlap
        assert all(hi - lo == 4 for lo, hi in ranges.values())
        # micro-major then rank: consecutive blocks of batch_size
        assert [ranges[m, r][0] for m in range(3) for r in range(world)] == list(
            range(step * per_step, (step + 1) * per_step, 4)
        )
        rank_sets = [{i for m in range(3) for i in range(*ranges[m, r])} for r in range(world)]
        assert not rank_sets[0] & rank_sets[1]
    # the same global batch, however it is split: 1 x 8, 1 x (2 micro x 4), 2 ranks x 4, 2 ranks x (2 micro x 2)
    layouts = [(8, 1, 1), (4, 2, 1), (4, 1, 2), (2, 2, 2)]
    for step in range(3):
        seen = []
        for bs, gas, w in layouts:
            cfg = tiny(Path("unused"), batch_size=bs, gradient_accumulation_steps=gas)
            seen.append(
                sorted(i for m in range(gas) for r in range(w) for i in range(*micro_batch_range(cfg, step, m, r, w)))
            )
        assert all(s == list(range(8 * step, 8 * step + 8)) for s in seen)


def test_accumulation_matches_one_big_batch_with_variable_scored_counts(tmp_path: Path) -> None:
    recipe = {"task": "set", "max_steps": 6, "eval_every_steps": 6, "log_every_steps": 1}
    # the point of the test: micro-batches of one step score different numbers of tokens
    task = tiny(tmp_path, **recipe).build_task()
    counts = [int(samples(task, 0, "train", lo, lo + 4).loss_mask[:, :-1].sum()) for lo in range(0, 48, 4)]
    assert any(counts[2 * s] != counts[2 * s + 1] for s in range(6)), counts

    big = train(tiny(tmp_path / "big", batch_size=8, gradient_accumulation_steps=1, **recipe))
    acc = train(tiny(tmp_path / "acc", batch_size=4, gradient_accumulation_steps=2, **recipe))
    assert max_abs_diff(weights(big.checkpoint), weights(acc.checkpoint)) <= 1e-5
    big_losses = [r["train_loss"] for r in big.history]
    acc_losses = [r["train_loss"] for r in acc.history]
    assert acc_losses == pytest.approx(big_losses, rel=1e-5)
    assert acc.state.tokens_seen == big.state.tokens_seen


# -- 4. release recipes through the CLI --------------------------------------------------
def test_release_recipe_runs_through_the_cli_and_prunes_checkpoints(tmp_path: Path) -> None:
    save_dir = tmp_path / "release"
    result = invoke("pretrain", "--config", RECIPES / "release_sort.yaml", "--save_dir", save_dir)
    assert result.exit_code == 0, result.output
    assert steps_of(save_dir) == [20, 30]  # save_total_limit: 2 of checkpoints 10, 20, 30
    meta = json.loads((save_dir / "checkpoint-30" / RUN_META).read_text())
    config = meta["config"]
    assert (config["model_size"], config["grad_clip"], config["eval_every_steps"], config["seed"]) == (
        "2_4_16",
        1.0,
        10,
        42,
    )
    assert config["save_dir"] == str(save_dir)  # the command line beats the recipe
    assert meta["task"] == {"task": "sort", "seq_length": 8, "vocab_size": 16, "shuffle": False}
    assert [r["step"] for r in read_metrics(save_dir) if "val_loss" in r] == [10, 20, 30]


def test_release_wandb_keys_map_to_report_to() -> None:
    plain = load_config(RECIPES / "release_sort.yaml")
    with_wandb = load_config(RECIPES / "release_sort_wandb.yaml")
    assert plain.report_to == [] and with_wandb.report_to == ["wandb"]
    assert (with_wandb.wandb_project, with_wandb.wandb_entity, with_wandb.run_name) == (
        "procpre-tests",
        "procpre",
        "release-sort",
    )
    differing = {k for k, v in with_wandb.as_dict().items() if plain.as_dict()[k] != v}
    assert differing == {"report_to", "wandb_project", "wandb_entity", "run_name"}
    assert load_config(None, {"use_wandb": True}).report_to == ["wandb"]


# -- 5. two processes ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_cpu_processes_match_one_process_with_the_same_global_batch(tmp_path: Path) -> None:
    recipe = {
        **TINY,
        "task": "set",
        "max_steps": 12,
        "gradient_accumulation_steps": 2,
        "lr_schedule": "cosine",
        "warmup_steps": 3,
        "eval_every_steps": 6,
        "save_every_steps": 6,
        "seed": 3,
    }
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(yaml.safe_dump({**recipe, "batch_size": 4}))
    # accelerate 1.x: `--cpu` always runs ONE process (simple launcher); `--multi_gpu` spawns them via torchrun and
    # ACCELERATE_USE_CPU makes each join a gloo (MULTI_CPU) group instead of training alone.
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.accelerate_cli",
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--main_process_port",
        str(_free_port()),
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(ROOT / "scripts" / "pretrain.py"),
        "--config",
        str(recipe_path),
        "--save_dir",
        str(tmp_path / "two"),
    ]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    one = train(load_config(None, {**recipe, "batch_size": 8, "save_dir": str(tmp_path / "one")}))
    two_meta = json.loads((tmp_path / "two" / "checkpoint-12" / RUN_META).read_text())
    assert two_meta["world_size"] == 2 and two_meta["tokens_seen"] == one.state.tokens_seen

    a, b = read_metrics(tmp_path / "one"), read_metrics(tmp_path / "two")
    assert [r["step"] for r in b] == [r["step"] for r in a] == list(range(1, 13))
    assert [r["lr"] for r in b] == pytest.approx([r["lr"] for r in a], rel=1e-9)  # scheduler stepped once per step
    assert [r["train_loss"] for r in b] == pytest.approx([r["train_loss"] for r in a], rel=1e-4)
    assert b[-1]["val_loss"] == pytest.approx(a[-1]["val_loss"], rel=1e-4)
    assert max_abs_diff(weights(one.checkpoint), weights(tmp_path / "two" / "checkpoint-12")) <= 1e-4
    assert sorted(p.name for p in (tmp_path / "two" / "checkpoint-12" / TRAINING_STATE).glob("random_states_*")) == [
        "random_states_0.pkl",
        "random_states_1.pkl",
    ]


def test_world_size_without_a_process_group_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="ACCELERATE_USE_CPU"):
        train(tiny(tmp_path, max_steps=1))
    assert not list(tmp_path.iterdir())


# -- 6. Hub ------------------------------------------------------------------------------
def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


def test_push_run_then_load_main_and_step_branches(tmp_path: Path, hub) -> None:
    from transformers import AutoModelForCausalLM

    save_dir = tmp_path / "run"
    train(tiny(save_dir, batch_size=8, max_steps=10, save_every_steps=5, eval_every_steps=5))
    assert steps_of(save_dir) == [5, 10]
    before = _snapshot(save_dir)
    repo_id = hub.repo_id("tiny-sort")

    result = invoke("push", save_dir, repo_id)
    assert result.exit_code == 0, result.output
    assert _snapshot(save_dir) == before
    files = hub.api.list_repo_files(repo_id)
    assert {"config.json", "model.safetensors", "README.md", RUN_META, TRAINER_STATE} <= set(files)
    assert not [f for f in files if f.startswith(TRAINING_STATE)]  # optimiser state stays local
    assert "step-5" in {b.name for b in hub.api.list_repo_refs(repo_id).branches}

    hub.clear_cache()
    for revision, step in ((None, 10), ("step-5", 5)):
        kwargs = {"revision": revision} if revision else {}
        model = AutoModelForCausalLM.from_pretrained(repo_id, **kwargs)
        local = weights(save_dir / f"checkpoint-{step}")
        remote = {k: v for k, v in model.state_dict().items() if k in local}
        assert remote.keys() == local.keys()
        assert max_abs_diff(local, remote) == 0.0, revision


def test_push_to_an_unreachable_endpoint_fails_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    import procpre.hub

    save_dir = tmp_path / "run"
    train(tiny(save_dir, max_steps=2, eval_every_steps=2))
    before = _snapshot(save_dir)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:1")
    sleeps: list[float] = []
    monkeypatch.setattr(procpre.hub.time, "sleep", sleeps.append)

    result = invoke("push", save_dir, "test-user/unreachable")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "failed after 3 attempts" in result.output and "local files are untouched" in result.output
    assert "Traceback" not in result.output
    assert sleeps == [2.0, 4.0]
    assert _snapshot(save_dir) == before

    with pytest.raises(procpre.hub.PushError):
        procpre.hub.push_checkpoint(save_dir / "checkpoint-2", "test-user/unreachable")


# -- 7. bad input --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--config", RECIPES / "bad_key.yaml"], "unknown recipe key 'bogus_key'"),
        (["--model_size", "2_3_16"], "'model_size' '2_3_16': width 16 must be divisible by the 3 heads"),
        (["--task", "no_such_task"], "'task': unknown task 'no_such_task'"),
        (["--lr", "-1"], "'lr' must be > 0"),
        (["--batch_size", "many"], "'batch_size' must be of type int"),
        (["--config", "no/such/recipe.yaml"], "config file no/such/recipe.yaml does not exist"),
        (["--torch_compile", "fast"], "'torch_compile' must be one of no, default, reduce-overhead"),
        (["--torch_threads", "0"], "'torch_threads' must be >= 1"),
        pytest.param(
            ["--mixed_precision", "fp16"],
            "'mixed_precision' fp16 needs a GPU",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is valid on a GPU"),
        ),
    ],
    ids=[
        "unknown-key",
        "model-size",
        "unknown-task",
        "negative-lr",
        "bad-type",
        "missing-config",
        "compile-mode",
        "no-threads",
        "fp16-on-cpu",
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path: Path, args: list[Any], expected: str) -> None:
    result = invoke("pretrain", "--save_dir", tmp_path / "run", "--max_steps", "2", *args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_resume_without_a_checkpoint_starts_fresh_and_says_so(tmp_path: Path) -> None:
    save_dir = tmp_path / "run"
    result = invoke(
        "pretrain", "--resume", "--save_dir", save_dir, *[f"--{k}={v}" for k, v in TINY.items()], "--max_steps", "3"
    )
    assert result.exit_code == 0, result.output
    assert f"no checkpoint-<step> folder in {save_dir}; starting from step 0" in result.output
    assert steps_of(save_dir) == [3]
    assert [r["step"] for r in read_metrics(save_dir)] == [1, 2, 3]


# -- 8. SIGINT ----------------------------------------------------------------------------
def _wait_for_metrics(proc: subprocess.Popen, path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return
        if proc.poll() is not None:
            pytest.fail(f"training exited with {proc.returncode} before logging a step")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no metrics.jsonl record within the timeout")


def test_sigint_checkpoints_exits_130_and_resume_finishes(tmp_path: Path) -> None:
    save_dir = tmp_path / "run"
    max_steps = 200
    args = [
        sys.executable,
        "-m",
        "procpre.cli",
        "pretrain",
        "--save_dir",
        str(save_dir),
        *[f"--{k}={v}" for k, v in TINY.items()],
        "--max_steps",
        str(max_steps),
        "--save_every_steps",
        "1000",
        "--eval_every_steps",
        "1000",
    ]
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_metrics(proc, save_dir / "metrics.jsonl")
        proc.send_signal(signal.SIGINT)
        returncode = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    output = (tmp_path / "first.log").read_text()
    assert returncode == 130, output[-3000:]
    assert "continue with --resume" in output and "Traceback" not in output
    (interrupted,) = steps_of(save_dir)
    assert 1 <= interrupted < max_steps
    assert json.loads((save_dir / f"checkpoint-{interrupted}" / TRAINER_STATE).read_text())["step"] == interrupted

    resumed = subprocess.run([*args, "--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"resumed from {save_dir / f'checkpoint-{interrupted}'} at step {interrupted}" in resumed.stdout
    assert steps_of(save_dir) == [interrupted, max_steps]
    assert [r["step"] for r in read_metrics(save_dir)] == list(range(1, max_steps + 1))


def test_length_curriculum_grows_the_task(tmp_path):
    config = load_config(
        None,
        {
            "task": "identity",
            "seq_length": 6,
            "vocab_size": 4,
            "model_size": "1_2_16",
            "batch_size": 32,
            "max_steps": 40,
            "lr": 1e-2,
            "eval_every_steps": 5,
            "eval_samples": 64,
            "save_every_steps": 40,
            "use_curriculum": True,
            "curriculum_start_length": 2,
            "curriculum_step": 2,
            "curriculum_threshold": 0.4,
            "save_dir": str(tmp_path / "run"),
        },
    )
    result = train(config)
    lengths = [r["curriculum_length"] for r in result.history if "curriculum_length" in r]
    assert lengths[0] == 2 and lengths == sorted(lengths) and lengths[-1] > 2
    assert result.state.curriculum_length == lengths[-1]
