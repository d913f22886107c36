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
    return _environment().get_template("dataset_card.md.j2").render(
        yaml_header=_yaml(header),
        configs=views,
        config_names=list(configs),
        command=command or "procpre data export ...",
        load_path=load_path,
        version=__version__,
    )
