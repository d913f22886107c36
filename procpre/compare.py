"""Comparisons: a from-scratch arm and pretrained arms, over seeds, ending in a report.

A comparison file (YAML) names the downstream recipe, the seeds and the arms:

    downstream: {task: condattendstream_8, model_size: 2_4_16, max_steps: 300, lr: 1.0e-3, ...}
    seeds: [0, 1]
    arms:
      - name: scratch
      - name: dyck
        pretrain: {task: dyck, k: 4, seq_length: 32, model_size: 2_4_16, max_steps: 200}
        transfer: attn,ffn,ln
        embedding_init: average
        budget: additive          # or substitutive: the same total tokens as the baseline
      - name: set-attn+eca-mlp
        mix: {attn: runs/set/checkpoint-2500, ffn: runs/eca/checkpoint-2500}

Each arm's pretraining runs once (seed of the first seed), then each seed trains
downstream with the same loop. Every number in the report is read back from the
runs' own metrics files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Hashable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from procpre.checkpoint import check_same_run, latest_checkpoint, read_run_meta
from procpre.config import ConfigError, TrainConfig, load_config, read_yaml
from procpre.downstream import TEST_METRICS, backfill_breakdown, run_downstream
from procpre.export import export_dataset
from procpre.jobs import Job, run_jobs
from procpre.report import collect_run, write_report
from procpre.train import finished_checkpoint, read_history, train
from procpre.transfer import EMBEDDING_STRATEGIES, TransferError, parse_components, plan_paths

ARM_KEYS = {"name", "pretrain", "pretrained", "transfer", "embedding_init", "freeze", "mix", "budget", "downstream"}


class ComparisonInterrupted(RuntimeError):
    """A run stopped before its last step (SIGINT/SIGTERM); its checkpoint is kept for --resume."""


@dataclass
class Arm:
    name: str
    pretrain: dict[str, Any] | None = None
    pretrained: str | None = None
    transfer: str = "attn,ffn,ln"
    embedding_init: str = "average"
    freeze: str = ""
    mix: dict[str, Any] = field(default_factory=dict)  # component -> checkpoint path, or {name, pretrain}
    budget: str = "additive"
    downstream: dict[str, Any] = field(default_factory=dict)  # per-arm overrides (e.g. its best lr)

    @property
    def is_baseline(self) -> bool:
        return not (self.pretrain or self.pretrained or self.mix)


@dataclass
class Comparison:
    downstream: dict[str, Any]
    seeds: list[int]
    arms: list[Arm]
    title: str = "procpre comparison"
    paper: dict[str, dict[str, float]] = field(default_factory=dict)  # arm -> metric -> paper figure
    notes: list[str] = field(default_factory=list)


def select_arms(comparison: Comparison, names: list[str]) -> Comparison:
    """The comparison with only the named arms, in the file's order: run part of a recipe, the rest later."""
    known = [arm.name for arm in comparison.arms]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ConfigError(f"--arms names {unknown or 'nothing'}; this comparison's arms are {', '.join(known)}")
    return replace(comparison, arms=[arm for arm in comparison.arms if arm.name in names])


def parse_comparison(data: dict[str, Any]) -> Comparison:
    """Validate a comparison mapping before anything trains; errors name the offending key."""
    unknown = set(data) - {"downstream", "seeds", "arms", "title", "paper", "notes"}
    if unknown:
        raise ConfigError(
            f"unknown comparison key(s) {sorted(unknown)}; expected downstream, seeds, arms, title, paper, notes"
        )
    downstream = data.get("downstream")
    if not isinstance(downstream, dict) or "task" not in downstream:
        raise ConfigError("'downstream' must be a mapping of recipe keys that names its 'task' (e.g. sorting_10)")
    arms = [_parse_arm(raw, downstream) for raw in data.get("arms") or []]
    if not arms:
        raise ConfigError("'arms' must list at least one arm (e.g. `- name: scratch`)")
    if len({a.name for a in arms}) != len(arms):
        raise ConfigError("arm names must be unique")
    _check_pretrainings_agree(arms)
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(type(s) is int and s >= 0 for s in seeds):
        raise ConfigError(f"'seeds' must be a list of seeds such as [0, 1, 2], got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"'seeds' lists a seed twice ({seeds}); each seed is one run")
    paper = data.get("paper") or {}
    if not isinstance(paper, dict) or not all(
        isinstance(f, dict) and all(isinstance(v, (int, float)) for v in f.values()) for f in paper.values()
    ):
        raise ConfigError(
            f"'paper' must map arm -> {{metric: figure}}, e.g. {{scratch: {{accuracy: 59.1}}}}; got {paper!r}"
        )
    notes = data.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ConfigError(f"'notes' must be a list of strings, got {notes!r}")
    return Comparison(dict(downstream), seeds, arms, data.get("title", "procpre comparison"), paper, list(notes))


def _parse_arm(raw: Any, downstream: dict[str, Any]) -> Arm:
    """One arm, with every recipe it will train built now: a typo fails here, not hours into the run."""
    if not isinstance(raw, dict):
        raise ConfigError(f"each arm must be a mapping such as `- name: scratch`, got {raw!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"every arm needs a 'name' (a string such as scratch), got {raw!r}")
    bad = set(raw) - ARM_KEYS
    if bad:
        raise ConfigError(f"arm {name!r}: unknown key(s) {sorted(bad)}; allowed {sorted(ARM_KEYS)}")
    for key, kind in (("pretrain", dict), ("mix", dict), ("downstream", dict), ("pretrained", str)):
        if raw.get(key) is not None and not isinstance(raw[key], kind):
            raise ConfigError(
                f"arm {name!r}: {key!r} must be a {'mapping' if kind is dict else 'path'}, got {raw[key]!r}"
            )
    arm = Arm(**{k: v for k, v in raw.items() if v is not None})  # `mix:` left empty in YAML is no mix
    if arm.budget not in ("additive", "substitutive"):
        raise ConfigError(f"arm {name!r}: 'budget' must be additive or substitutive, got {arm.budget!r}")
    if arm.embedding_init not in EMBEDDING_STRATEGIES:
        raise ConfigError(
            f"arm {name!r}: 'embedding_init' must be one of {', '.join(EMBEDDING_STRATEGIES)}, "
            f"got {arm.embedding_init!r}"
        )
    try:
        for spec in (arm.transfer, arm.freeze, *arm.mix):
            parse_components(spec)
    except TransferError as err:
        raise ConfigError(f"arm {name!r}: {err}") from None
    load_config(None, {**downstream, **arm.downstream})
    for pretraining, recipe in _pretrainings(arm):
        _pretraining_config(recipe, 0, Path(pretraining))
    return arm


def load_comparison(path: str | Path) -> Comparison:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"comparison file {path} does not exist")
    return parse_comparison(read_yaml(path.read_text()) or {})


def pretrain_once(name: str, recipe: dict[str, Any], root: Path, seed: int, log: list[dict[str, Any]]) -> str:
    """Run (or reuse, or resume) a named procedural pretraining under `root/name`; return its checkpoint."""
    save_dir = root / name
    config = _pretraining_config(recipe, seed, save_dir)
    started = time.perf_counter()
    done = finished_checkpoint(save_dir, config)
    reused = done is not None
    if reused:
        check_same_run(done, config, {})
    else:
        result = train(config)
        if result.stopped == "interrupted":
            raise ComparisonInterrupted(
                f"pretraining {name!r} stopped at step {result.state.step} of {config.max_steps}; "
                "run the same command again to resume it"
            )
    checkpoint = latest_checkpoint(save_dir)
    if checkpoint is None:
        raise ConfigError(f"pretraining {name!r} produced no checkpoint in {save_dir}")
    if any(t["stage"] == "pretrain" and t["arm"] == name for t in log):
        return str(checkpoint)  # already run or reused by an earlier arm of this comparison: report it once
    meta = read_run_meta(checkpoint)
    log.append(
        {
            "stage": "pretrain",
            "arm": name,
            **_seconds(started, meta.get("train_seconds"), reused),
            "task": meta["task"],
            "step": meta["step"],
            "tokens_seen": meta.get("tokens_seen", 0),
            "metrics": meta.get("metrics", {}),
            "halfway_metrics": validation_at(read_history(save_dir), meta["step"] // 2),
            "torch_threads": meta.get("torch_threads"),  # a CPU retrain matches it only at this count
        }
    )
    return str(checkpoint)


def _pretraining_config(recipe: dict[str, Any], seed: int, save_dir: Path) -> TrainConfig:
    """A named pretraining's recipe as it trains: the comparison's first seed unless the recipe sets one."""
    recipe = {k: v for k, v in recipe.items() if k != "name"}
    return load_config(None, {"seed": seed, **recipe, "save_dir": str(save_dir), "resume": True})


def validation_at(history: list[dict[str, Any]], step: int) -> dict[str, Any]:
    """The last validation metrics at or before `step` (prefix `val_` dropped): how far from converged a run was."""
    evals = [r for r in history if "val_accuracy" in r and r["step"] <= step]
    if not evals:
        return {}
    last = evals[-1]
    return {k.removeprefix("val_"): v for k, v in last.items() if k.startswith("val_")} | {"step": last["step"]}


def _seconds(started: float, recorded: float | None, reused: bool) -> dict[str, Any]:
    """Wall time of a stage whose run recorded `recorded` seconds of training loop: see `_stage_time`."""
    if reused:
        return {"seconds": recorded, "reused": True, "loop_seconds": recorded}
    return _stage_time(time.perf_counter() - started, recorded)


def _stage_time(measured: float, recorded: float | None) -> dict[str, Any]:
    """This call's wall time; for a run resumed here, the loop time it recorded over all its calls.

    A run trained from step 0 in this call spent its whole loop inside `measured`, so a recorded loop time
    above it means earlier calls trained part of the run.
    """
    if recorded is not None and recorded > measured:
        return {"seconds": recorded, "resumed": True, "loop_seconds": recorded}
    return {"seconds": measured, "loop_seconds": recorded}


def _arm_pretraining(arm: Arm) -> tuple[str, dict[str, Any]] | None:
    """(name, recipe) of the pretraining the arm's transfer source comes from, if it is trained here."""
    if arm.pretrained or not arm.pretrain:
        return None
    return arm.pretrain.get("name", arm.name), arm.pretrain


def _mix_pretrainings(arm: Arm) -> dict[str, tuple[str, dict[str, Any]]]:
    """Mix component -> (name, recipe) for the entries that describe a pretraining rather than name a checkpoint."""
    found = {}
    for component, source in arm.mix.items():
        if isinstance(source, dict):
            if not isinstance(source.get("name"), str) or not isinstance(source.get("pretrain"), dict):
                raise ConfigError(
                    f"arm {arm.name!r}: mix entry {component!r} needs 'name' (a string) and 'pretrain' (a recipe)"
                )
            found[component] = (source["name"], source["pretrain"])
        elif not isinstance(source, str):
            raise ConfigError(
                f"arm {arm.name!r}: mix entry {component!r} must be a checkpoint path or {{name, pretrain}}"
            )
    return found


def _pretrainings(arm: Arm) -> list[tuple[str, dict[str, Any]]]:
    """(name, recipe) of every pretraining the arm needs: its own and its mix entries'."""
    own = _arm_pretraining(arm)
    return ([own] if own else []) + list(_mix_pretrainings(arm).values())


def _check_pretrainings_agree(arms: list[Arm]) -> None:
    """A pretraining name is one run: arms that share it must describe it alike (it is trained once, then reused)."""
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for arm in arms:
        for name, recipe in _pretrainings(arm):
            recipe = {k: v for k, v in recipe.items() if k != "name"}
            first = seen.setdefault(name, (arm.name, recipe))
            if first[1] != recipe:
                raise ConfigError(
                    f"arms {first[0]!r} and {arm.name!r} describe pretraining {name!r} with different recipes; "
                    "give them the same recipe (it is trained once) or different names"
                )


def _pretrain_arm(arm: Arm, root: Path, seed: int, log: list[dict[str, Any]]) -> str | None:
    named = _arm_pretraining(arm)
    return pretrain_once(*named, root, seed, log) if named else arm.pretrained


def _resolve_mix(arm: Arm, root: Path, seed: int, log: list[dict[str, Any]]) -> dict[str, str]:
    """Mix entries may name a checkpoint or describe a pretraining to run first."""
    trained = _mix_pretrainings(arm)
    return {
        component: pretrain_once(*trained[component], root, seed, log) if component in trained else str(source)
        for component, source in arm.mix.items()
    }


def _procedural_tokens(checkpoint: str | None) -> int:
    if not checkpoint or not Path(checkpoint).is_dir():
        return 0
    try:
        return int(read_run_meta(checkpoint).get("tokens_seen", 0))
    except FileNotFoundError:
        return 0


def _downstream_config(
    comparison: Comparison, arm: Arm, seed: int, out: Path, source: str | None, procedural: int
) -> TrainConfig:
    """The recipe of one downstream run: the comparison's, the arm's overrides, its seed, transfer and budget."""
    values = {
        **comparison.downstream,
        **arm.downstream,
        "seed": seed,
        "resume": True,
        "save_dir": str(out / "runs" / arm.name / f"seed-{seed}"),
    }
    if not arm.is_baseline:
        values.update(pretrained=source, transfer=arm.transfer if source else "", embedding_init=arm.embedding_init)
    if arm.freeze:
        values["freeze"] = arm.freeze
    config = load_config(None, values)
    if arm.budget == "substitutive" and procedural:
        baseline_steps = int(load_config(None, dict(comparison.downstream)).max_steps)
        tokens_per_step = config.batch_size * config.gradient_accumulation_steps * config.build_task().length
        config.max_steps = max(1, baseline_steps - procedural // tokens_per_step)
    return config


def _sources(arm: Arm, root: Path, seed: int, log: list[dict[str, Any]]) -> tuple[str | None, dict[str, str], int]:
    """The arm's pretrained checkpoint, its mix entries (running their pretrainings if needed), procedural tokens."""
    source = _pretrain_arm(arm, root, seed, log)
    mix = _resolve_mix(arm, root, seed, log)
    return source, mix, sum(_procedural_tokens(p) for p in {source, *mix.values()})  # each checkpoint once


def _train_downstream(config: TrainConfig, mix: dict[str, str], arm: str, seed: int) -> bool:
    """One downstream run to its end and tested, unless it already was; whether it trained."""
    done = finished_checkpoint(config.save_dir, config)
    if done is not None and (Path(config.save_dir) / TEST_METRICS).exists():
        check_same_run(done, config, plan_paths(config.pretrained, config.transfer, mix))
        backfill_breakdown(done, config)
        return False
    result = run_downstream(config, mix=mix or None)
    if result.train.stopped == "interrupted":
        raise ComparisonInterrupted(
            f"{arm} seed {seed} stopped at step {result.train.state.step} of {config.max_steps}; "
            "run the same command again to resume it (finished runs are reused)"
        )
    return True


def _downstream_job(comparison: Comparison, arm: Arm, seed: int, out: Path, root: Path) -> bool:
    """A downstream run in a worker: its pretrainings are done, so resolving them only reads their checkpoints."""
    source, mix, procedural = _sources(arm, root, comparison.seeds[0], [])
    config = _downstream_config(comparison, arm, seed, out, source, procedural)
    return _train_downstream(config, mix, arm.name, seed)


def _pretrain_job(name: str, recipe: dict[str, Any], root: Path, seed: int) -> bool:
    """Whether the pretraining trained here (False: an earlier run had finished it)."""
    log: list[dict[str, Any]] = []
    pretrain_once(name, recipe, root, seed, log)
    return not log[0].get("reused")


def comparison_jobs(comparison: Comparison, out: Path, root: Path) -> list[Job]:
    """Every training of a comparison as a job: each pretraining once, each downstream run after its own."""
    seed = comparison.seeds[0]
    pretrainings: dict[str, Job] = {}
    downstream = []
    for arm in comparison.arms:
        needs = []
        for name, recipe in _pretrainings(arm):
            key = ("pretrain", name, None)
            pretrainings.setdefault(name, Job(key, _pretrain_job, (name, recipe, root, seed)))
            needs.append(key)
        for run_seed in comparison.seeds:
            key = ("downstream", arm.name, run_seed)
            downstream.append(Job(key, _downstream_job, (comparison, arm, run_seed, out, root), tuple(needs)))
    return [*pretrainings.values(), *downstream]


def run_at_once(comparisons: list[tuple[Comparison, Path]], root: Path, jobs: int) -> dict[Path, dict]:
    """Every training of several comparisons (each with its output folder) in one pool of `jobs` processes.

    A pretraining they share runs once; a downstream run starts as soon as its pretrainings are done, whichever
    comparison it belongs to. Returns, per output folder, the wall seconds of each job that trained (for
    `run_comparison(measured=...)`).
    """
    pooled: dict[Hashable, Job] = {}
    for comparison, out in comparisons:
        for job in comparison_jobs(comparison, out, root):
            key = job.key if job.key[0] == "pretrain" else (out, *job.key)  # arm names repeat across comparisons
            pooled.setdefault(key, replace(job, key=key))
    seconds = _run_pool(list(pooled.values()), jobs)
    return {
        out: {k[1:] if k[0] == out else k: v for k, v in seconds.items() if k[0] in (out, "pretrain")}
        for _, out in comparisons
    }


def _run_pool(job_list: list[Job], jobs: int) -> dict:
    try:
        return run_jobs(job_list, jobs)
    except (KeyboardInterrupt, BrokenProcessPool):
        raise ComparisonInterrupted(
            "a training process stopped (interrupted or killed); each running training saved a checkpoint "
            "if it could: run the same command again to resume (finished runs are reused)"
        ) from None


def run_comparison(
    comparison: Comparison,
    out_dir: str | Path,
    push_to_hub: str | None = None,
    pretrain_dir: str | Path | None = None,
    push_shared: bool = True,
    jobs: int = 1,
    measured: dict | None = None,
) -> dict[str, Any]:
    """Run every arm and seed (resuming finished or interrupted runs), then write the report.

    Pretrainings live under `pretrain_dir` (default `out_dir/pretrain`) by name, so
    several comparisons can share them. `push_to_hub` is a repo-id prefix: each
    downstream model goes to PREFIX-TASK-ARM-seedN and, with `push_shared`, what comparisons may share:
    each pretraining run here to PREFIX-pretrain-NAME (final checkpoint on main, earlier ones as branches)
    and the data (`export_comparison_data`) to the dataset repo PREFIX-data.
    `jobs` > 1 runs independent trainings at once in that many processes (`procpre.jobs`);
    the report then gives each stage's own wall time. `measured` (from `run_at_once`, which trained
    this comparison's runs beside others') gives those wall times instead.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(pretrain_dir) if pretrain_dir else out / "pretrain"
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    if measured is None:
        measured = _run_pool(comparison_jobs(comparison, out, root), jobs) if jobs > 1 else {}
    timings: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for arm in comparison.arms:
        source, mix, procedural = _sources(arm, root, comparison.seeds[0], timings)
        for seed in comparison.seeds:
            config = _downstream_config(comparison, arm, seed, out, source, procedural)
            started = time.perf_counter()
            trained = _train_downstream(config, mix, arm.name, seed)
            recorded = read_run_meta(latest_checkpoint(config.save_dir)).get("train_seconds")
            timings.append(
                {"stage": "downstream", "arm": arm.name, "seed": seed, **_seconds(started, recorded, not trained)}
            )
            runs.append(
                collect_run(arm.name, seed, Path(config.save_dir), procedural_tokens=procedural, budget=arm.budget)
            )
            if push_to_hub:
                from procpre.hub import push_run

                push_run(config.save_dir, f"{push_to_hub}-{comparison.downstream['task']}-{arm.name}-seed{seed}")
    _use_measured(timings, measured)
    if push_to_hub and push_shared:
        push_shared_runs([comparison], out, root, push_to_hub)
    return write_report(comparison, runs, timings, out)


def _use_measured(timings: list[dict[str, Any]], measured: dict) -> None:
    """Stages that ran in a worker process: their own wall time there, not "reused" from the call's view."""
    for timing in timings:
        key = (timing["stage"], timing["arm"], timing.get("seed"))
        if key in measured:
            timing.pop("reused", None)
            timing.update(_stage_time(measured[key], timing["loop_seconds"]))


def run_comparisons(
    comparisons: list[tuple[Comparison, Path]],
    out_dir: str | Path,
    pretrain_dir: str | Path | None = None,
    jobs: int = 1,
    push_to_hub: str | None = None,
) -> list[dict[str, Any]]:
    """Several comparisons, each with its own output folder, as one job: returns their reports in order.

    They share `pretrain_dir` (default `out_dir/pretrain`), so a pretraining two of them name trains once, and
    with `jobs` > 1 one pool of processes (`run_at_once`): a comparison's runs need not wait for the previous
    comparison's last run. With `push_to_hub`, what they share (pretrainings, the data under `out_dir/data`)
    is pushed once.
    """
    out, root = Path(out_dir), Path(pretrain_dir) if pretrain_dir else Path(out_dir) / "pretrain"
    measured = run_at_once(comparisons, root, jobs) if jobs > 1 else {}
    reports = [
        run_comparison(comparison, sub, push_to_hub, pretrain_dir=root, push_shared=False, measured=measured.get(sub))
        for comparison, sub in comparisons
    ]
    if push_to_hub:
        push_shared_runs([comparison for comparison, _ in comparisons], out, root, push_to_hub)
    return reports


#: training samples a comparison's dataset repo shows per config (the full stream regenerates from task and seed)
DATA_PREVIEW = 10_000


def export_comparison_data(comparison: Comparison, data_dir: str | Path, root: Path) -> list[str]:
    """The data a comparison trained and scored on, as one Hub-layout dataset folder; returns its configs.

    Per downstream task and seed (`TASK-seedN`): the held-out test set as scored, the validation set and
    the first training samples; per pretraining (by its name): its validation set and first training samples,
    under the seed it trained with. Folders shared by several comparisons keep what is already there.
    """
    written = []
    tasks = {}
    for arm in comparison.arms:
        recipe = {**comparison.downstream, **arm.downstream}
        config = load_config(None, recipe)
        tasks.setdefault(json.dumps(config.build_task().config_dict(), sort_keys=True), (recipe["task"], config))
    for task_id, config in tasks.values():
        task = config.build_task()
        for seed in comparison.seeds:
            name = f"{task_id}-seed{seed}"  # the task id the recipe names, e.g. sorting_10
            validation = config.eval_samples
            export_dataset([task], data_dir, DATA_PREVIEW, seed, validation, task.heldout_size, names=[name])
            written.append(name)
    for name, recipe in dict(p for arm in comparison.arms for p in _pretrainings(arm)).items():
        config = _pretraining_config(recipe, comparison.seeds[0], root / name)
        task = config.build_task()
        export_dataset([task], data_dir, DATA_PREVIEW, config.seed, config.eval_samples, names=[name])
        written.append(name)
    return written


def push_shared_runs(comparisons: list[Comparison], out: Path, pretrain_dir: Path, prefix: str) -> list[str]:
    """Push the pretrainings under `pretrain_dir` and the comparisons' data (written to `out/data`); the URLs."""
    from procpre.hub import push_folder

    for comparison in comparisons:
        export_comparison_data(comparison, out / "data", pretrain_dir)
    urls = push_pretraining_runs(pretrain_dir, prefix)
    return [*urls, push_folder(out / "data", f"{prefix}-data", repo_type="dataset")]


def push_pretraining_runs(pretrain_dir: Path, prefix: str) -> list[str]:
    """Push every named pretraining under `pretrain_dir` to PREFIX-pretrain-NAME; returns the URLs."""
    from procpre.hub import push_run

    runs = sorted(d for d in Path(pretrain_dir).glob("*") if d.is_dir() and latest_checkpoint(d) is not None)
    return [push_run(run, f"{prefix}-pretrain-{run.name}") for run in runs]
