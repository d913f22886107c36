"""Model and dataset cards rendered from the Jinja templates in `model_cards/`."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import jinja2
import yaml

from procpre import __version__

TEMPLATES = Path(__file__).resolve().parent.parent / "model_cards"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True
    )


def _yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _task_doc(config: dict[str, Any]) -> str:
    from procpre.tasks import task_class

    return inspect.cleandoc(task_class(config["task"]).__doc__ or "")


def render_dataset_card(configs: dict[str, dict[str, Any]], command: str | None, load_path: str = "DIR") -> str:
    """Card for an exported folder; its YAML `configs:` is what `load_dataset(DIR, name)` reads."""
    header = {
        "license": "apache-2.0",
        "task_categories": ["text-generation"],
        "tags": ["procedural", "synthetic", "procpre"] + sorted({c["task"]["task"] for c in configs.values()}),
        "pretty_name": "procpre procedural data",
        "configs": [
            {
                "config_name": name,
                "data_files": [{"split": split, "path": f"{name}/{split}-*.parquet"} for split in cfg["splits"]],
            }
            for name, cfg in configs.items()
        ],
    }
    views = {name: {**cfg, "doc": _task_doc(cfg["task"])} for name, cfg in configs.items()}
    return (
        _environment()
        .get_template("dataset_card.md.j2")
        .render(
            yaml_header=_yaml(header),
            configs=views,
            config_names=list(configs),
            command=command or "procpre data export ...",
            load_path=load_path,
            version=__version__,
        )
    )


def _card_metadata(meta: dict[str, Any], task_params: dict[str, Any], metrics: dict[str, float]) -> dict[str, Any]:
    """The card's YAML header: Hub tags, and a model-index entry with the checkpoint's validation metrics."""
    config, task_name = meta["config"], meta["task"]["task"]
    stage = meta.get("stage", "pretraining")
    return {
        "library_name": "transformers",
        "license": "apache-2.0",
        "pipeline_tag": "text-generation",
        "tags": ["procpre", "procedural-pretraining", "gpt2", task_name, stage],
        "model-index": [
            {
                "name": meta.get("run_name") or f"procpre-{task_name}-{config['model_size']}",
                "results": [
                    {
                        "task": {"type": "text-generation", "name": f"{task_name} ({stage})"},
                        "dataset": {
                            "name": f"procpre {task_name}",
                            "type": f"procpre/{task_name}",
                            "config": task_name,
                            "split": "validation",
                            "args": task_params,
                        },
                        "metrics": [
                            {"type": key, "name": f"validation {key}", "value": round(value, 6)}
                            for key, value in metrics.items()
                        ],
                    }
                ],
            }
        ],
    }


def render_model_card(meta: dict[str, Any], load_path: str = ".") -> str:
    """Card of a checkpoint: YAML metadata (tags, model-index with the metrics) and a usage snippet."""
    config = meta["config"]
    task_name = meta["task"]["task"]
    task_params = {k: v for k, v in meta["task"].items() if k != "task"}
    metrics = {k: float(v) for k, v in (meta.get("metrics") or {}).items()}
    layers, heads, width = (int(x) for x in config["model_size"].split("_"))
    stage = meta.get("stage", "pretraining")
    transfer = meta.get("transfer")
    return (
        _environment()
        .get_template("model_card.md.j2")
        .render(
            yaml_header=_yaml(_card_metadata(meta, task_params, metrics)),
            title=f"procpre {task_name} {'downstream' if stage == 'downstream' else 'procedural pretraining'}",
            model_size=config["model_size"],
            layers=layers,
            heads=heads,
            width=width,
            num_parameters=int(meta.get("num_parameters", 0)),
            stage_sentence="trained on the procedural task below" if stage != "downstream" else "trained downstream",
            version=__version__,
            task_name=task_name,
            task_params=task_params,
            seed=config["seed"],
            step=meta["step"],
            tokens_seen=int(meta.get("tokens_seen", 0)),
            lr=config["lr"],
            lr_schedule=config["lr_schedule"],
            weight_decay=config["weight_decay"],
            metrics=metrics,
            transfer=transfer,
            load_path=load_path,
        )
    )
