"""Checkpoint directories: Hub-ready (`from_pretrained`-able) and resumable, written atomically.

    save_dir/checkpoint-<step>/
        model.safetensors, config.json   the model (save_pretrained)
        README.md                        model card (model_cards/model_card.md.j2)
        procpre_run.json                 task + params, recipe, seed, step, tokens seen, metrics, versions
        training_state/                  optimiser, scheduler, RNG (accelerate save_state)
        trainer_state.json               loop position: step, early-stopping and curriculum state

A checkpoint is assembled in `.checkpoint-<step>.tmp` and renamed into place, so a
directory named `checkpoint-<step>` is always complete.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import accelerate
import datasets
import huggingface_hub
import torch
import transformers

from procpre import __version__
from procpre.cards import render_model_card
from procpre.config import ConfigError, TrainConfig

RUN_META = "procpre_run.json"
TRAINER_STATE = "trainer_state.json"
TRAINING_STATE = "training_state"
_CKPT = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_step(name: str) -> int | None:
    """The step of a `checkpoint-<step>` folder name; None for any other name."""
    match = _CKPT.match(name)
    return int(match.group(1)) if match else None


class CheckpointError(FileNotFoundError):
    """No usable checkpoint where one was expected; the message says where we looked."""


def versions() -> dict[str, str]:
    return {
        "procpre": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "datasets": datasets.__version__,
        "huggingface_hub": huggingface_hub.__version__,
    }


def list_checkpoints(save_dir: str | os.PathLike[str]) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(save_dir)
    if not root.is_dir():
        return []
    found = [(step, p) for p in root.iterdir() if p.is_dir() and (step := checkpoint_step(p.name)) is not None]
    return [p for _, p in sorted(found)]


def latest_checkpoint(save_dir: str | os.PathLike[str]) -> Path | None:
    found = list_checkpoints(save_dir)
    return found[-1] if found else None


def staging_dir(save_dir: str | os.PathLike[str], step: int) -> Path:
    return Path(save_dir) / f".checkpoint-{step}.tmp"


def write_model_files(
    staging: Path, model: torch.nn.Module, meta: dict[str, Any], trainer_state: dict[str, Any]
) -> None:
    """The Hub-facing part (weights, config, card, metadata) and the loop position."""
    model.save_pretrained(staging, safe_serialization=True)
    (staging / RUN_META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    (staging / TRAINER_STATE).write_text(json.dumps(trainer_state, indent=2) + "\n")
    (staging / "README.md").write_text(render_model_card(meta))


def publish(staging: Path, save_dir: str | os.PathLike[str], step: int, keep: int | None) -> Path:
    """Rename the finished staging folder into place, then prune beyond `keep` checkpoints."""
    final = Path(save_dir) / f"checkpoint-{step}"
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    if keep is not None:
        for old in list_checkpoints(save_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def read_run_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    meta_path = Path(path) / RUN_META
    if not meta_path.is_file():
        raise CheckpointError(f"{path} is not a procpre checkpoint (no {RUN_META})")
    return json.loads(meta_path.read_text())


def same_weights(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two checkpoint folders hold the same model weights (a copied or moved checkpoint is the same)."""
    files = [Path(a) / "model.safetensors", Path(b) / "model.safetensors"]
    if not all(f.is_file() for f in files) or files[0].stat().st_size != files[1].stat().st_size:
        return False
    return len({_sha256(str(f), f.stat().st_mtime_ns) for f in files}) == 1


@functools.lru_cache(maxsize=64)
def _sha256(path: str, mtime_ns: int) -> str:
    """A file's digest, once per version of it: every component of a plan usually names the same checkpoint."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def transfer_sources(meta: dict[str, Any]) -> dict[str, str]:
    """Component -> checkpoint a run's weights were transferred from, as its metadata records (empty: none)."""
    return (meta.get("transfer") or {}).get("plan", {})


def check_same_run(checkpoint: str | os.PathLike[str], config: TrainConfig, sources: dict[str, str]) -> dict[str, Any]:
    """Refuse to resume or reuse `checkpoint` for `config` if they are different runs (never mix two recipes).

    Returns the checkpoint's run metadata, read for the check.

    `sources` (component -> checkpoint; empty when nothing is transferred) must give the same weights the run
    transferred; the `pretrained` path itself may differ (a copied or moved checkpoint is the same source).
    """
    meta = read_run_meta(checkpoint)
    differences = config.differences_from(meta.get("config", {}))
    differences.pop("pretrained", None)  # only a path: what it gave each component is compared below
    reasons = [f"{key}: {before!r} -> {after!r}" for key, (before, after) in differences.items()]
    recorded = transfer_sources(meta)
    for component in sorted(sources.keys() | recorded.keys()):
        was, now = recorded.get(component), sources.get(component)
        if was != now and not (was and now and same_weights(was, now)):
            reasons.append(f"{component} transferred from: {was!r} -> {now!r}")
    if meta.get("step", 0) > config.max_steps:
        reasons.append(f"step: the checkpoint is at step {meta['step']}, past max_steps {config.max_steps}")
    if reasons:
        raise ConfigError(
            f"{Path(checkpoint).parent} holds a run with other settings ({'; '.join(reasons)}); "
            "use the settings it was made with to resume or reuse it, or a new save_dir/--out for the new run"
        )
    return meta


def read_trainer_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads((Path(path) / TRAINER_STATE).read_text())
