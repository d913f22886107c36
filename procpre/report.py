"""Reports: tables (Markdown + JSON) and plots (PNG) built only from the runs' own metrics files."""

from __future__ import annotations

import json
import math
import platform
import statistics
from pathlib import Path
from typing import Any

import torch

from procpre.checkpoint import RUN_META, latest_checkpoint
from procpre.config import load_config
from procpre.downstream import TEST_BREAKDOWN, TEST_METRICS
from procpre.train import read_history
from procpre.transfer import embeddings_state

#: a seed whose arm and baseline differ by at most this many points counts as level (`paired_seeds`)
LEVEL_POINTS = 0.1

#: test metrics shown in the table, in this order, when present
TABLE_METRICS = ("published_accuracy", "accuracy", "exact_match", "perplexity", "loss", "steps")


def collect_run(arm: str, seed: int, run_dir: Path, procedural_tokens: int = 0, budget: str = "additive") -> dict:
    """One arm x seed: its curve, its final test metrics and its token accounting, read from disk."""
    history = read_history(run_dir)
    test_path = run_dir / TEST_METRICS
    test = json.loads(test_path.read_text()) if test_path.exists() else {}
    breakdown_path = run_dir / TEST_BREAKDOWN
    breakdown = json.loads(breakdown_path.read_text()) if breakdown_path.exists() else {}
    semantic = max((r.get("tokens_seen", 0) for r in history), default=0)
    final = latest_checkpoint(run_dir)
    meta = json.loads((final / RUN_META).read_text()) if final and (final / RUN_META).is_file() else {}
    return {
        "arm": arm,
        "seed": seed,
        "run_dir": str(run_dir),
        "history": history,
        "test": test,
        "transfer": meta.get("transfer"),  # what the run recorded it copied, parameter counts included
        "breakdown": breakdown,
        "procedural_tokens": procedural_tokens,
        "semantic_tokens": semantic,
        "budget": budget,
    }


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """arm -> metric -> {mean, std, n, values}, plus token accounting."""
    arms: dict[str, dict[str, Any]] = {}
    for run in runs:
        arms.setdefault(run["arm"], {"runs": []})["runs"].append(run)
    summary = {}
    for arm, info in arms.items():
        metrics: dict[str, Any] = {}
        names = sorted({k for r in info["runs"] for k in r["test"] if k != "test_samples"})
        for name in names:
            by_seed = {r["seed"]: float(r["test"][name]) for r in info["runs"] if name in r["test"]}
            values = list(by_seed.values())
            mean, std = _mean_std(values)
            metrics[name] = {"mean": mean, "std": std, "n": len(values), "values": values, "by_seed": by_seed}
        first = info["runs"][0]
        summary[arm] = {
            "metrics": metrics,
            "procedural_tokens": first["procedural_tokens"],
            "semantic_tokens": first["semantic_tokens"],
            "budget": first["budget"],
            "seeds": [r["seed"] for r in info["runs"]],
        }
    return summary


def data_efficiency(runs: list[dict[str, Any]], baseline: str, metric: str = "val_loss") -> dict[str, float | None]:
    """Fraction of the baseline's steps each arm needs to reach the baseline's final `metric` (lower is better).

    None when the arm never reaches it. Curves are averaged over seeds at common steps.
    """
    curves = _mean_curves(runs, metric)
    if baseline not in curves or not curves[baseline]:
        return {}
    base_steps, base_values = zip(*curves[baseline])
    target, total = base_values[-1], base_steps[-1]
    out: dict[str, float | None] = {}
    for arm, curve in curves.items():
        reached = next((step for step, value in curve if value <= target), None)
        out[arm] = None if reached is None else reached / total
    return out


def _mean_curves(runs: list[dict[str, Any]], metric: str) -> dict[str, list[tuple[int, float]]]:
    """arm -> (step, mean over seeds) at the steps every seed of the arm logged (never a mean of survivors)."""
    per_arm: dict[str, dict[int, list[float]]] = {}
    seeds: dict[str, int] = {}
    for run in runs:
        seeds[run["arm"]] = seeds.get(run["arm"], 0) + 1
        for record in run["history"]:
            if metric in record:
                per_arm.setdefault(run["arm"], {}).setdefault(int(record["step"]), []).append(float(record[metric]))
    return {
        arm: sorted((s, statistics.fmean(v)) for s, v in steps.items() if len(v) == seeds[arm])
        for arm, steps in per_arm.items()
    }


def _is_percent(metric: str) -> bool:
    return "accuracy" in metric or metric == "exact_match"


def _column(metric: str) -> str:
    return f"{metric} (%)" if _is_percent(metric) else metric


def _fmt(stat: dict[str, Any] | None, percent: bool, digits: int = 2) -> str:
    if not stat or math.isnan(stat["mean"]):
        return "-"
    scale = 100 if percent else 1
    mean = f"{scale * stat['mean']:.{digits}f}"
    return f"{mean} ± {scale * stat['std']:.{digits}f}" if stat["n"] > 1 else mean  # one seed has no spread


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: every table of a report is built here, so they all render alike."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in rows])


def markdown_table(summary: dict[str, Any], paper: dict[str, dict[str, float]]) -> str:
    present = [m for m in TABLE_METRICS if any(m in s["metrics"] for s in summary.values())]
    header = ["arm", "seeds", *map(_column, present)]
    if paper:
        header += ["paper (%)", "gap (pts)"]
    rows = []
    for arm, info in summary.items():
        cells = [arm, str(len(info["seeds"]))]
        cells += [_fmt(info["metrics"].get(m), _is_percent(m), 0 if m == "steps" else 2) for m in present]
        if paper:
            figure = paper.get(arm, {})
            name, value = next(iter(figure.items()), (None, None))
            ours = info["metrics"].get(name or "", {}).get("mean")
            cells.append("-" if value is None else f"{value:.1f} ({name})")
            cells.append("-" if value is None or ours is None else f"{100 * ours - value:+.1f}")
        rows.append(cells)
    return md_table(header, rows)


def plot(runs: list[dict[str, Any]], summary: dict[str, Any], out: Path) -> list[str]:
    """Validation curves per arm (mean over seeds) and final test-metric bars; returns file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    metric = "val_accuracy" if any("val_accuracy" in r for run in runs for r in run["history"]) else "val_loss"
    fig, ax = plt.subplots(figsize=(6, 4))
    for arm, curve in _mean_curves(runs, metric).items():
        steps, values = zip(*curve)
        ax.plot(steps, values, marker="o", markersize=3, label=arm)
    ax.set_xlabel("downstream step")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title("validation during downstream training (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=120)
    plt.close(fig)
    files.append("curves.png")
    files += plot_final(summary, out)
    return files


def plot_final(summary: dict[str, Any], out: Path) -> list[str]:
    """final.png: each arm's mean test metric ± std as a bar, every seed as a dot (split outcomes stay visible)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bar_metric = next(
        (m for m in TABLE_METRICS if m != "steps" and any(m in s["metrics"] for s in summary.values())), None
    )
    if bar_metric is None:
        return []
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(summary)), 4))
    arms = list(summary)
    stats = [summary[a]["metrics"].get(bar_metric, {}) for a in arms]
    means = [s.get("mean", math.nan) for s in stats]
    stds = [s.get("std", 0.0) for s in stats]
    ax.bar(arms, means, yerr=stds, capsize=4, color="tab:blue", alpha=0.6)
    for i, s in enumerate(stats):
        values = s.get("values", [])
        n = len(values)  # dots spread across the bar so that equal seeds stay countable
        ax.scatter(
            [i + (0.3 * (j / (n - 1) - 0.5) if n > 1 else 0.0) for j in range(n)], values, color="black", s=12, zorder=3
        )
    ax.set_ylabel(f"test {bar_metric}")
    ax.set_title(f"final test {bar_metric} (bar: mean ± std; dots: seeds)")
    ax.grid(axis="y", alpha=0.3)
    ax.tick_params(axis="x", labelrotation=20 if len(arms) > 4 else 0)
    fig.tight_layout()
    fig.savefig(out / "final.png", dpi=120)
    plt.close(fig)
    return ["final.png"]


def per_seed_table(runs: list[dict[str, Any]], extra: str | None = None) -> str:
    """Each run's own test metrics: outcomes that split between seeds (a plateau left or not) stay visible.

    `extra` names one more field of each run to show as a last column (a pooled run's source report).
    """
    present = [m for m in TABLE_METRICS if m != "steps" and any(m in r["test"] for r in runs)]
    header = ["arm", "seed", *map(_column, present), *([extra] if extra else [])]
    rows = []
    for run in runs:
        cells = [
            f"{(100 if _is_percent(m) else 1) * float(run['test'][m]):.2f}" if m in run["test"] else "-"
            for m in present
        ]
        cells += [f"`{run.get(extra, '-')}`"] if extra else []
        rows.append([run["arm"], str(run["seed"]), *cells])
    return md_table(header, rows)


def _checkpoint_name(path: str) -> str:
    """`.../pretrain/dyck-2_4_16/checkpoint-8000` -> `dyck-2_4_16/checkpoint-8000`; a Hub id stays as it is."""
    where = Path(path)
    return f"{where.parent.name}/{where.name}" if where.name.startswith("checkpoint-") else path


def arms_table(runs: list[dict[str, Any]]) -> str:
    """What each arm's model started from, as its first run recorded it: a reader need not trust the recipe."""
    first: dict[str, dict[str, Any]] = {}
    for run in runs:
        first.setdefault(run["arm"], run)
    rows = []
    for arm, run in first.items():
        record = run.get("transfer") or {}
        plan, copied = record.get("plan", {}), record.get("copied", {})
        parts = ", ".join(f"{c} ({copied.get(c, 0):,})" for c in plan) or "nothing: trained from scratch"
        parts += "".join(f"; {note}" for note in record.get("notes", []))
        sources = "; ".join(
            f"{', '.join(c for c in plan if plan[c] == s)} ← {_checkpoint_name(s)}"
            for s in dict.fromkeys(plan.values())
        )
        embeddings = embeddings_state(plan, record.get("embedding_init", "-"))
        frozen = ", ".join(sorted(record.get("frozen") or {})) or "-"
        rows.append([arm, parts, sources or "-", embeddings, frozen])
    header = ["arm", "transferred (parameters copied)", "from", "token embeddings", "frozen"]
    return md_table(header, rows)


def breakdown_means(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per error grouping of the task: each arm's test exact match per group (mean over its seeds), from the runs."""
    scored = [r for r in runs if r.get("breakdown")]
    out: dict[str, dict[str, Any]] = {}
    for name, first_rows in (scored[0]["breakdown"]["groups"] if scored else {}).items():
        labels = [row["group"] for row in first_rows]
        arms: dict[str, list[float]] = {}
        overall: dict[str, float] = {}
        for arm in dict.fromkeys(r["arm"] for r in scored):
            own = [r["breakdown"] for r in scored if r["arm"] == arm]
            rates = [
                [g["exact_match"] for b in own for g in b["groups"][name] if g["group"] == label] for label in labels
            ]
            arms[arm] = [statistics.fmean(v) if v else math.nan for v in rates]
            overall[arm] = statistics.fmean(b["exact_match"] for b in own)
        samples = {
            "seed": scored[0]["seed"],
            "all": scored[0]["breakdown"]["samples"],
            "per_group": [row["samples"] for row in first_rows],
        }
        out[name] = {"labels": labels, "arms": arms, "overall": overall, "samples": samples}
    return out


def breakdown_tables(means: dict[str, dict[str, Any]]) -> list[str]:
    """`breakdown_means` as one Markdown table per grouping (percent)."""
    lines = []
    for name, info in means.items():
        labels = info["labels"]
        rows = [
            [arm, f"{100 * info['overall'][arm]:.2f}", *("-" if math.isnan(x) else f"{100 * x:.1f}" for x in rates)]
            for arm, rates in info["arms"].items()
        ]
        samples = info["samples"]
        rows.append([f"samples (seed {samples['seed']})", str(samples["all"]), *map(str, samples["per_group"])])
        lines += [f"By {name}:", "", md_table(["arm", "all", *labels], rows), ""]
    return lines


ERRORS_PLOT = "errors.png"  # written by plot_breakdown, shown in its own report section


def plot_breakdown(means: dict[str, dict[str, Any]], out: Path) -> list[str]:
    """errors.png: exact match per group, one panel per grouping, one line per arm ([] without groupings)."""
    if not means:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(means), figsize=(5 * len(means), 3.6), squeeze=False)
    for ax, (name, info) in zip(axes[0], means.items()):
        for arm, rates in info["arms"].items():
            ax.plot(info["labels"], [100 * x for x in rates], marker="o", label=arm)
        ax.set_xlabel(name)
        ax.set_ylabel("test exact match (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.suptitle("where the errors are (mean over seeds)")
    fig.tight_layout()
    fig.savefig(out / ERRORS_PLOT, dpi=120)
    plt.close(fig)
    return [ERRORS_PLOT]


EFFECT_RULE = (
    "An arm's effect is its gain over the baseline in the published metric. Verdict: *reproduced* when our gain "
    "has the paper's sign and at least half its size, *smaller* when the sign agrees but it is under half, "
    "*not reproduced* otherwise; *within seed spread* (with or without a paper figure) when our gain is below "
    "the larger std of the two arms. *Seeds* compares the arm with the baseline seed by seed (the seeds both ran): "
    f"ahead or behind by more than {LEVEL_POINTS} points, or level."
)


def paired_seeds(arm: dict[str, Any], base: dict[str, Any]) -> dict[str, int]:
    """How many of the seeds both arms ran the arm is ahead of, level with (LEVEL_POINTS) or behind the baseline.

    Means hide how often pretraining helps: +8.8 on average can be two seeds far ahead and one behind.
    Runs of one seed share the data order and the fresh layers' initialisation, so a seed is a paired trial.
    """
    seeds = [s for s in arm.get("by_seed", {}) if s in base.get("by_seed", {})]
    diffs = [100 * (arm["by_seed"][s] - base["by_seed"][s]) for s in seeds]
    return {
        "ahead": sum(d > LEVEL_POINTS for d in diffs),
        "level": sum(abs(d) <= LEVEL_POINTS for d in diffs),
        "behind": sum(d < -LEVEL_POINTS for d in diffs),
    }


def _paired_cell(counts: dict[str, int] | None) -> str:
    if not counts or not sum(counts.values()):
        return "-"
    parts = [f"{counts[k]} {k}" for k in ("ahead", "level", "behind") if counts[k]]
    return f"{', '.join(parts)} (of {sum(counts.values())})"


def effects(summary: dict[str, Any], paper: dict[str, dict[str, float]], baseline: str) -> list[dict[str, Any]]:
    """Each pretrained arm's gain over `baseline`, ours and the paper's (points), and a verdict (EFFECT_RULE)."""
    base_paper = paper.get(baseline, {})
    out = []
    for arm, info in summary.items():
        figure = paper.get(arm, {})
        metric = next(iter(figure), None) or next(iter(base_paper), None) or "published_accuracy"
        ours_arm, ours_base = info["metrics"].get(metric), summary.get(baseline, {}).get("metrics", {}).get(metric)
        if arm == baseline or ours_arm is None or ours_base is None:
            continue
        gain = 100 * (ours_arm["mean"] - ours_base["mean"])
        paper_gain = figure[metric] - base_paper[metric] if metric in figure and metric in base_paper else None
        verdict = None
        if paper_gain:
            agrees = gain * paper_gain > 0
            verdict = "reproduced" if agrees and gain / paper_gain >= 0.5 else "smaller" if agrees else "not reproduced"
        spread = 100 * max(ours_arm["std"], ours_base["std"])
        if min(ours_arm["n"], ours_base["n"]) > 1 and abs(gain) < spread:  # flagged with or without a paper figure
            verdict = f"{verdict}, within seed spread" if verdict else "within seed spread"
        seeds = paired_seeds(ours_arm, ours_base)
        out.append(
            {"arm": arm, "metric": metric, "gain": gain, "paper_gain": paper_gain, "verdict": verdict, "seeds": seeds}
        )
    return out


def effects_table(rows: list[dict[str, Any]], baseline: str) -> str:
    header = ["arm", "metric", f"ours − {baseline} (pts)", "paper − baseline (pts)", "verdict", "seeds"]
    table = []
    for row in rows:
        paper = "-" if row["paper_gain"] is None else f"{row['paper_gain']:+.1f}"
        verdict = row["verdict"] or "-"
        table.append([row["arm"], row["metric"], f"{row['gain']:+.2f}", paper, verdict, _paired_cell(row.get("seeds"))])
    return md_table(header, table)


#: how the data-efficiency fraction reads
EFFICIENCY_RULE = (
    "Fraction of the baseline's downstream steps needed to reach its final validation loss "
    "(< 1: fewer steps; '-': never reached)."
)

#: why the pretraining table shows two points of each run
PRETRAINING_RULE = (
    "Validation accuracy halfway through and at the end shows how far from converged the transferred model is; "
    "threads are the torch CPU threads it trained with (a CPU retrain gives the same model only at the same count)."
)

#: where every figure of a report comes from
SOURCES_NOTE = (
    "Every number above is read from the runs' own files (`metrics.jsonl`, `test_metrics.json`, "
    "`test_breakdown.json`, the final checkpoint's `procpre_run.json`; paths in report.json)."
)


def write_report(comparison: Any, runs: list[dict[str, Any]], timings: list[dict[str, Any]], out: Path) -> dict:
    """report.md, report.json, curves.png and final.png in `out`; returns the JSON content."""
    summary = summarise(runs)
    baseline = next((a.name for a in comparison.arms if a.is_baseline), None)
    efficiency = data_efficiency(runs, baseline) if baseline else {}
    effect_rows = effects(summary, comparison.paper, baseline) if baseline else []
    hardware = _hardware()
    files = plot(runs, summary, out)
    means = breakdown_means(runs)
    error_plot = plot_breakdown(means, out)
    report = {
        "title": comparison.title,
        "downstream": comparison.downstream,
        "seeds": comparison.seeds,
        "summary": summary,
        "data_efficiency": efficiency,
        "breakdown": means,
        "effects": effect_rows,
        "timings": timings,
        "hardware": hardware,
        "paper": comparison.paper,
        "notes": comparison.notes,
        "runs": [{k: v for k, v in r.items() if k != "history"} for r in runs],
        "plots": files + error_plot,
    }
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "report.md").write_text(_report_markdown(comparison, report, baseline) + "\n")
    return report


def _report_markdown(comparison: Any, report: dict[str, Any], baseline: str | None) -> str:
    """The Markdown report: every table is drawn from `report`, the JSON just written, so the two cannot disagree."""
    summary, timings, means, runs = report["summary"], report["timings"], report["breakdown"], report["runs"]
    effect_rows, efficiency = report["effects"], report["data_efficiency"]
    curve_plots = [f for f in report["plots"] if f != ERRORS_PLOT]
    lines = [
        f"# {comparison.title}",
        "",
        _setup_line(comparison, report["hardware"]),
        "",
        "## Test metrics (mean ± std over seeds; one seed: its value)",
        "",
        markdown_table(summary, comparison.paper),
        "",
    ]
    lines += ["## Arms: what each model started from", "", arms_table(runs), ""]
    if effect_rows:
        lines += ["## Effect of pretraining", "", EFFECT_RULE, "", effects_table(effect_rows, baseline or ""), ""]
    if len(comparison.seeds) > 1:
        lines += ["## Per seed", "", per_seed_table(runs), ""]
    if means:
        lines += ["## Where the errors are (test exact match %, mean over seeds)", "", *breakdown_tables(means)]
        lines += [f"![{ERRORS_PLOT}]({ERRORS_PLOT})", ""]
    lines += ["## Token accounting", "", token_table(summary)]
    if efficiency:
        lines += ["", "## Data efficiency", "", EFFICIENCY_RULE, "", efficiency_table(efficiency)]
    pretrainings = [t for t in timings if t["stage"] == "pretrain"]
    if pretrainings:
        lines += ["", "## Pretraining (procedural stage, at transfer time)", "", PRETRAINING_RULE, ""]
        lines.append(pretraining_table(pretrainings))
    lines += ["", "## Wall time", "", wall_time_table(timings)]
    lines += ["", *[f"![{f}]({f})" for f in curve_plots]]
    if comparison.notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in comparison.notes]]
    lines += ["", SOURCES_NOTE]
    return "\n".join(lines)


def _hardware() -> dict[str, Any]:
    """What the report's timings ran on."""
    return {
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
    }


def _setup_line(comparison: Any, hardware: dict[str, Any]) -> str:
    """The downstream recipe, with defaults filled in as the baseline trained, and the hardware, in one sentence."""
    recipe = load_config(None, dict(comparison.downstream))
    task_params = ", ".join(f"{k}={v}" for k, v in recipe.task_params.items())
    return (
        f"Downstream: `{comparison.downstream['task']}` ({task_params}), model `{recipe.model_size}`, "
        f"{recipe.max_steps} steps × batch {recipe.batch_size} (an arm's own steps: table), "
        f"seeds {comparison.seeds}. Hardware: "
        f"{hardware['cuda'] or hardware['processor']} ({hardware['torch_threads']} torch threads)."
    )


def token_table(summary: dict[str, Any]) -> str:
    """Procedural and downstream tokens of each arm, and which budget they count against."""
    rows = [[a, s["budget"], f"{s['procedural_tokens']:,}", f"{s['semantic_tokens']:,}"] for a, s in summary.items()]
    return md_table(["arm", "budget", "procedural tokens", "downstream tokens"], rows)


def efficiency_table(efficiency: dict[str, float | None]) -> str:
    rows = [[a, "-" if f is None else f"{f:.2f}"] for a, f in efficiency.items()]
    return md_table(["arm", "fraction"], rows)


def pretraining_table(pretrainings: list[dict[str, Any]]) -> str:
    """Each procedural model a transfer read: its task, length of training, and validation halfway and at the end."""
    rows = []
    for t in pretrainings:
        task = ", ".join(f"{k}={v}" for k, v in t.get("task", {}).items())
        m, half = t.get("metrics", {}), t.get("halfway_metrics") or {}
        halfway = f"{half['accuracy']:.4f} ({half['step']})" if "accuracy" in half else "-"
        rows.append(
            [
                t["arm"],
                task,
                str(t.get("step", "-")),
                f"{t.get('tokens_seen', 0):,}",
                f"{m.get('accuracy', float('nan')):.4f}",
                halfway,
                f"{m.get('loss', float('nan')):.4f}",
                str(t.get("torch_threads") or "-"),
            ]
        )
    header = ["name", "task", "steps", "tokens", "val accuracy", "val accuracy halfway (step)", "val loss", "threads"]
    return md_table(header, rows)


def wall_time_table(timings: list[dict[str, Any]]) -> str:
    rows = [[t["stage"], t["arm"], str(t.get("seed", "-")), _stage_seconds(t)] for t in timings]
    return md_table(["stage", "arm", "seed", "seconds"], rows)


def _stage_seconds(timing: dict[str, Any]) -> str:
    """Seconds of a stage; a run reused from an earlier call, or resumed, shows the loop time it recorded."""
    seconds = timing["seconds"]
    if timing.get("resumed"):
        return f"{seconds:.1f} (resumed: training loop over all its calls)"
    if not timing.get("reused"):
        return f"{seconds:.1f}"
    return f"{seconds:.1f} (earlier run, reused)" if seconds is not None else "earlier run, reused (not recorded)"
