"""Pool the seeds of several comparison reports into one table.

Seeds of one downstream setting often arrive in separate calls (seeds 0-2 first, 3-4 when a verdict needs them);
pooling their `report.json` files (a `procpre reproduce` report contributes its comparison of that setting, an
earlier pool its runs) gives the mean ± std over all of them without retraining, and refuses
to mix reports whose downstream settings differ or that hold the same arm and seed twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from procpre.checkpoint import checkpoint_step
from procpre.config import ConfigError
from procpre.report import EFFECT_RULE, effects, effects_table, markdown_table, per_seed_table, plot_final, summarise

POOLED_JSON = "pooled.json"
POOLED_MD = "pooled.md"
NO_TRANSFER = "no recorded transfer (scratch, or a report from before runs recorded theirs)"


def _load_reports(path: Path) -> list[dict[str, Any]]:
    """The comparison report at `path`; a `procpre reproduce` report gives each of its comparisons.

    A `procpre pool` result counts as a report too, so a pool grows as seeds arrive: pool it with the new
    seeds' report (its runs keep the report they came from as their source).
    """
    file = path
    if path.is_dir():
        file = next(
            (path / name for name in ("report.json", POOLED_JSON) if (path / name).is_file()), path / "report.json"
        )
    if not file.is_file():
        raise ConfigError(
            f"no comparison report at {file}: pass a report.json or {POOLED_JSON}, or the folder "
            "`procpre compare` or `procpre pool` wrote"
        )
    try:
        report = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{file} is not valid JSON ({err}); pass the report.json `procpre compare` wrote") from None
    if isinstance(report, dict) and isinstance(report.get("comparisons"), list):
        found = [(c.get("task"), c.get("report")) for c in report["comparisons"] if isinstance(c, dict)]
        if found and all(_is_comparison(r) for _, r in found):
            return [{**r, "_file": f"{file} ({task})"} for task, r in found]
    if not _is_comparison(report):
        raise ConfigError(
            f"{file} is neither a `procpre compare` nor a `procpre reproduce` report (it has no 'runs' and "
            "'downstream', nor 'comparisons')"
        )
    if "sources" in report and "title" not in report:  # an earlier pool
        report = {**report, "title": "pooled: " + "; ".join(str(t) for t in report.get("titles", []))}
    return [{**report, "_file": str(file)}]


def _is_comparison(report: Any) -> bool:
    return isinstance(report, dict) and "runs" in report and "downstream" in report


def _setting(report: dict[str, Any]) -> str:
    return json.dumps(report["downstream"], sort_keys=True)


def _common_setting(per_file: list[tuple[Path, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One report list: a reproduce report's comparisons are narrowed to the downstream setting every file shares.

    A reproduce report holds one comparison per downstream task; pooled beside a comparison of one of those
    tasks, only that task's runs are seeds of the same setting.
    """
    if all(len(reports) == 1 for _, reports in per_file):
        return [reports[0] for _, reports in per_file]  # _check_same_downstream explains a mismatch
    common = set.intersection(*({_setting(r) for r in reports} for _, reports in per_file))
    if len(common) != 1:
        tasks = "; ".join(
            f"{file}: {', '.join(str(r['downstream'].get('task')) for r in reports)}" for file, reports in per_file
        )
        why = "no downstream setting is in every one" if not common else "they share several downstream settings"
        raise ConfigError(
            f"cannot tell which comparisons to pool: {why} ({tasks}); pass one comparison's report.json "
            "(a reproduce run's <out>/<task>/report.json) beside the reproduce report"
        )
    return [r for _, reports in per_file for r in reports if _setting(r) in common]


def _check_same_downstream(reports: list[dict[str, Any]]) -> None:
    first = reports[0]
    for other in reports[1:]:
        keys = sorted(set(first["downstream"]) | set(other["downstream"]))
        differ = [k for k in keys if first["downstream"].get(k) != other["downstream"].get(k)]
        if differ:
            shown = ", ".join(f"{k}: {first['downstream'].get(k)!r} vs {other['downstream'].get(k)!r}" for k in differ)
            raise ConfigError(
                f"{first['_file']} and {other['_file']} trained different downstream settings ({shown}); "
                "only seeds of one setting can be pooled"
            )


def _pretrainings(report: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """The pretrainings a report ran or reused, by (name, step): what they trained and how they validated."""
    kept = ("task", "step", "tokens_seen", "metrics", "halfway_metrics")
    return {
        (t["arm"], t["step"]): {k: t.get(k) for k in kept}
        for t in report.get("timings", [])
        if t.get("stage") == "pretrain" and "step" in t
    }


def _start(run: dict[str, Any], pretrainings: dict[tuple[str, int], dict[str, Any]]) -> Any:
    """What a run's transferred parts came from: per part, the pretraining its report recorded for that checkpoint.

    A pretraining replayed into another folder (same recipe and seed) is the same model, and its recorded
    validation metrics agree to the last digit; a checkpoint no pretraining record matches counts by its path.
    """
    if "start" in run:  # a run of an earlier pool
        return run["start"]
    plan = (run.get("transfer") or {}).get("plan") or {}
    start = {}
    for part, path in sorted(plan.items()):
        folder = Path(str(path))
        step = checkpoint_step(folder.name)
        start[part] = pretrainings.get((folder.parent.name, step), str(path)) if step is not None else str(path)
    return start or None


def _check_same_start(runs: list[dict[str, Any]]) -> None:
    """One arm name in two reports may hide two pretrained models: their runs must transfer from the same one."""
    first: dict[str, dict[str, Any]] = {}
    for run in runs:
        seen = first.setdefault(run["arm"], run)
        if run["start"] != seen["start"]:
            seen_plan, plan = ((r.get("transfer") or {}).get("plan") for r in (seen, run))
            differ = (
                ", and the reports' records of those pretrainings differ (recipe, steps or validation metrics; "
                "a CPU retrain of one recipe and seed is the same model only at the same torch_threads)"
            )
            raise ConfigError(
                f"arm {run['arm']} started from {seen_plan or NO_TRANSFER} in {seen['source']} but from "
                f"{plan or NO_TRANSFER} in {run['source']}{differ if seen_plan and plan else ''}: these are different "
                "models under one name, not seeds of one arm; pool them under --arms separately"
            )


def pool_runs(reports: list[dict[str, Any]], arms: list[str] | None = None) -> list[dict[str, Any]]:
    """Every run of the reports (only `arms`, in that order, when given), each (arm, seed) once."""
    present = list(dict.fromkeys(r["arm"] for report in reports for r in report["runs"]))
    wanted = arms or present
    unknown = [a for a in wanted if a not in present]
    if unknown:
        raise ConfigError(f"no arm {', '.join(unknown)} in these reports; their arms: {', '.join(present)}")
    seen: dict[tuple[str, int], str] = {}
    runs = []
    for report in reports:
        pretrainings = _pretrainings(report)
        for run in (r for r in report["runs"] if r["arm"] in wanted):
            key = (run["arm"], run["seed"])
            if key in seen:
                raise ConfigError(
                    f"arm {run['arm']} seed {run['seed']} is in both {seen[key]} and {report['_file']}; "
                    "pool reports of different seeds, or choose arms with --arms"
                )
            seen[key] = report["_file"]
            source = run.get("source", report["_file"])  # an earlier pool's runs keep theirs
            runs.append({**run, "source": source, "start": _start(run, pretrainings)})
    _check_same_start(runs)
    return sorted(runs, key=lambda r: (wanted.index(r["arm"]), r["seed"]))


def pool_reports(
    paths: list[Path], out: Path, arms: list[str] | None = None, baseline: str | None = None
) -> dict[str, Any]:
    """Write pooled.md, pooled.json and final.png in `out` from the reports at `paths`; returns the JSON.

    Gains are measured against `baseline`, by default `scratch` where it is pooled (no gains without it).
    """
    if not paths:
        raise ConfigError("give at least one report.json (or the folder holding it) to pool")
    reports = _common_setting([(Path(p), _load_reports(Path(p))) for p in paths])
    _check_same_downstream(reports)
    runs = pool_runs(reports, arms)
    summary = summarise(runs)
    paper = {arm: fig for report in reports for arm, fig in (report.get("paper") or {}).items() if arm in summary}
    if baseline is not None and baseline not in summary:
        raise ConfigError(f"--baseline {baseline} is not a pooled arm; the pooled arms: {', '.join(summary)}")
    base = baseline or ("scratch" if "scratch" in summary else None)
    effect_rows = effects(summary, paper, base) if base else []
    downstream = reports[0]["downstream"]
    out.mkdir(parents=True, exist_ok=True)
    files = plot_final(summary, out)
    pooled = {
        "sources": [r["_file"] for r in reports],
        "titles": [r.get("title") for r in reports],
        "downstream": downstream,
        "summary": summary,
        "effects": effect_rows,
        "paper": paper,
        "runs": runs,
        "plots": files,
    }
    (out / POOLED_JSON).write_text(json.dumps(pooled, indent=2, default=str) + "\n")
    lines = [
        f"# Pooled seeds: `{downstream.get('task')}`, model `{downstream.get('model_size')}`",
        "",
        "Runs pooled from:",
        "",
        *[f"- `{r['_file']}` ({r.get('title')})" for r in reports],
        "",
        "## Test metrics (mean ± std over seeds; one seed: its value)",
        "",
        markdown_table(summary, paper),
        "",
    ]
    if effect_rows:
        lines += ["## Effect of pretraining", "", EFFECT_RULE, "", effects_table(effect_rows, base or ""), ""]
    lines += ["## Per seed", "", per_seed_table(runs, extra="source"), "", *[f"![{f}]({f})" for f in files], ""]
    lines.append("Every number above is read from the pooled reports' own run records (paths in pooled.json).")
    (out / POOLED_MD).write_text("\n".join(lines) + "\n")
    return pooled
