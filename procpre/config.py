"""Training recipes: YAML (the published release's keys work unchanged) -> one validated `TrainConfig`.

Precedence: dataclass defaults < YAML file < command-line `--key value` overrides.
Keys naming a parameter of the chosen task (`seq_length`, `vocab_size`, `k`, ...)
become task parameters; every other key must be a field of `TrainConfig` or a
release alias below, else it is an error that names it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from procpre.tasks import TaskError, get_task, task_class
from procpre.tasks.base import Task
from procpre.tasks.registry import TASKS, parse_task_id


class _RecipeLoader(yaml.SafeLoader):
    """YAML 1.1 reads `12_12_768` as the integer 1212768; in a recipe it is a model size, so keep it a string."""


_RecipeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if not (tag.endswith(":int") or tag.endswith(":float"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(0|[1-9][0-9]*)$"), list("-+0123456789")
)
_RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?$|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"),
    list("-+0123456789."),
)


def read_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_RecipeLoader)


class ConfigError(ValueError):
    """A recipe key or value is wrong; the message names it and says what is allowed."""


#: release key -> our field
ALIASES = {
    "gpt2_size": "model_size",
    "learning_rate": "lr",
    "output_dir": "save_dir",
    "max_grad_norm": "grad_clip",
    "grad_norm_clip": "grad_clip",
    "eval_steps": "eval_every_steps",
    "eval_every": "eval_every_steps",
    "log_every": "log_every_steps",
    "wandb_run_name": "run_name",
    "eval_size": "test_size",
    "pretrained_model_path": "pretrained",
    "weights_to_be_transferred": "transfer",
    "weights_to_transfer": "transfer",
    "embedding_init_strategy": "embedding_init",
    "initialization_strategy": "embedding_init",
}
#: release key naming what stays trainable; everything else is frozen
TRAINED_KEYS = ("weights_to_be_trained", "weights_to_train")
#: release keys we accept and interpret specially
WANDB_KEYS = {"wandb_project", "wandb_entity", "wandb_run_name", "use_wandb", "wandb_mode"}
SCHEDULES = ("constant", "cosine", "linear")
PRECISIONS = ("no", "bf16", "fp16")
TRACKERS = ("tensorboard", "trackio", "wandb")
#: `torch.compile` modes for the training step ("no": eager)
COMPILE_MODES = ("no", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
#: keys that change where a run is saved, how it is logged or how fast it runs, never what it learns:
#: a saved run may be resumed or reused under new values of these (and only these)
RESULT_NEUTRAL_KEYS = frozenset(
    {
        "save_dir",
        "save_every_steps",
        "save_total_limit",
        "resume",
        "log_every_steps",
        "report_to",
        "run_name",
        "wandb_project",
        "wandb_entity",
        "push_to_hub",
        "hub_private",
        "eval_batch_size",
        "torch_compile",
        "torch_threads",  # CPU rounding differs with the thread count: resuming under another one warns (train)
    }
)


@dataclass
class Curriculum:
    """Length curriculum as in the release: grow `seq_length` when validation accuracy passes a threshold."""

    enabled: bool = False
    start_length: int = 8
    step: int = 8
    threshold: float = 0.9
    metric: str = "accuracy"


@dataclass
class TrainConfig:
    task: str = "set"
    task_params: dict[str, Any] = field(default_factory=dict)
    model_size: str = "2_4_16"
    dropout: float = 0.0
    batch_size: int = 64
    gradient_accumulation_steps: int = 1
    max_steps: int = 1000
    steps_per_epoch: int | None = None
    epochs: int | None = None
    lr: float = 5e-4
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    weight_decay: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    grad_clip: float = 1.0
    mixed_precision: str = "no"
    torch_compile: str = "no"  # one of COMPILE_MODES; GPU: fixed shapes, one graph (reduce-overhead: CUDA graphs)
    # CPU threads of this training (None: the process's, which `--jobs` workers share out). A CPU's float sums
    # depend on the thread count, so only a pinned count gives the same model from every call of a recipe.
    torch_threads: int | None = None
    seed: int = 0
    eval_every_steps: int = 100
    eval_samples: int = 512
    eval_batch_size: int = 256
    patience: int | None = None
    save_dir: str = "runs/procpre"
    save_every_steps: int = 500
    save_total_limit: int | None = None
    log_every_steps: int = 10
    report_to: list[str] = field(default_factory=list)
    run_name: str | None = None
    wandb_project: str | None = None
    wandb_entity: str | None = None
    push_to_hub: str | None = None
    hub_private: bool = False
    resume: bool = False
    curriculum: Curriculum = field(default_factory=Curriculum)
    # downstream stage (transfer from a pretrained checkpoint); unused by plain pretraining
    pretrained: str | None = None
    transfer: list[str] = field(default_factory=list)
    freeze: list[str] = field(default_factory=list)
    embedding_init: str = "average"

    def differences_from(self, saved: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Settings in which this run differs from `saved` (a checkpoint's recipe): key -> (saved, now).

        A constant-LR run may be extended (a larger `max_steps` continues it exactly); keys a checkpoint
        predates are not compared.
        """
        now = self.as_dict()
        out = {}
        for key in sorted((saved.keys() & now.keys()) - RESULT_NEUTRAL_KEYS):
            before, after = saved[key], now[key]
            extended = key == "max_steps" and self.lr_schedule == "constant" and after >= before
            if before != after and not extended:
                out[key] = (before, after)
        return out

    # -- derived -----------------------------------------------------------------------
    def build_task(self, **changes: Any) -> Task:
        return get_task(self.task, **{**self.task_params, **changes})

    @property
    def size(self) -> tuple[int, int, int]:
        return parse_model_size(self.model_size)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> TrainConfig:
        """Check every value once; messages name the key and the allowed range."""
        parse_model_size(self.model_size)
        try:
            self.build_task()
        except TaskError as err:
            raise ConfigError(str(err)) from None
        positive = (
            "batch_size",
            "gradient_accumulation_steps",
            "max_steps",
            "eval_every_steps",
            "eval_samples",
            "eval_batch_size",
            "save_every_steps",
            "log_every_steps",
        )
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"'{name}' must be an integer >= 1, got {getattr(self, name)!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"'dropout' must be in [0, 1), got {self.dropout}")
        if not self.lr > 0:
            raise ConfigError(f"'lr' must be > 0, got {self.lr}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError(f"'min_lr_ratio' must be in [0, 1], got {self.min_lr_ratio}")
        if self.warmup_steps < 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError("'warmup_steps', 'weight_decay' and 'grad_clip' must be >= 0")
        for name, allowed in (
            ("lr_schedule", SCHEDULES),
            ("mixed_precision", PRECISIONS),
            ("torch_compile", COMPILE_MODES),
        ):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"'{name}' must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for tracker in self.report_to:
            if tracker not in TRACKERS:
                raise ConfigError(f"'report_to' entries must be among {', '.join(TRACKERS)}, got {tracker!r}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"'patience' must be >= 1 evaluations (or absent), got {self.patience}")
        if self.save_total_limit is not None and self.save_total_limit < 1:
            raise ConfigError(f"'save_total_limit' must be >= 1 (or absent), got {self.save_total_limit}")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ConfigError(f"'torch_threads' must be >= 1 (or absent: the process's), got {self.torch_threads}")
        if self.seed < 0:
            raise ConfigError(f"'seed' must be >= 0, got {self.seed}")
        if self.curriculum.enabled:
            self._check_curriculum()
        return self

    def _check_curriculum(self) -> None:
        full = int(self.build_task().params.get("seq_length", 0))
        if not full:
            raise ConfigError(f"'use_curriculum' needs a task with 'seq_length'; {self.task} has none")
        if not 1 <= self.curriculum.start_length <= full or self.curriculum.step < 1:
            raise ConfigError(f"'curriculum_start_length' must be in [1, seq_length={full}] and 'curriculum_step' >= 1")


_SIZE = re.compile(r"^(\d+)_(\d+)_(\d+)$")


def parse_model_size(spec: str) -> tuple[int, int, int]:
    """`"L_H_D"` (layers, heads, width) -> ints; D must be divisible by H."""
    match = _SIZE.match(str(spec))
    if not match:
        raise ConfigError(f"'model_size' must look like LAYERS_HEADS_WIDTH, e.g. 2_4_16 or 12_12_768; got {spec!r}")
    layers, heads, width = map(int, match.groups())
    if min(layers, heads, width) < 1:
        raise ConfigError(f"'model_size' {spec!r}: layers, heads and width must all be >= 1")
    if width % heads:
        raise ConfigError(f"'model_size' {spec!r}: width {width} must be divisible by the {heads} heads")
    return layers, heads, width


def _task_param_names() -> set[str]:
    from procpre import tasks as _  # noqa: F401

    return {p.name for cls in TASKS.values() for p in cls.PARAMS}


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Type a value (a YAML scalar or a CLI string) like the field's default."""
    if isinstance(value, str) and not isinstance(default, str):
        try:
            value = float(value) if isinstance(default, float) else read_yaml(value) if value != "" else None
        except ValueError:
            raise ConfigError(f"'{name}' must be a number, got {value!r}") from None
    if isinstance(default, bool) and not isinstance(value, bool):
        raise ConfigError(f"'{name}' must be true or false, got {value!r}")
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(default, list) and isinstance(value, str):
        value = [v for v in value.replace(",", " ").split() if v]
    if default is not None and value is not None and not isinstance(value, type(default)):
        raise ConfigError(f"'{name}' must be of type {type(default).__name__}, got {value!r}")
    return value


def build_config(values: dict[str, Any]) -> TrainConfig:
    """Map a flat dict of recipe keys (release or ours) onto a validated TrainConfig."""
    config = TrainConfig()
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    task_params: dict[str, Any] = dict(values.pop("task_params", None) or {})
    task_name = values.pop("task", config.task)
    try:
        base, from_id = parse_task_id(str(task_name))  # published ids: condattendstream_30 -> n=30
        cls = task_class(base)
    except TaskError as err:
        raise ConfigError(f"'task': {err}") from None
    task_params = {**from_id, **task_params}
    config.task = cls.name
    own_params = {p.name for p in cls.PARAMS}
    other_params = _task_param_names() - own_params
    for key, value in values.items():
        key = ALIASES.get(key, key)
        if key in own_params:
            task_params[key] = value
        elif key.startswith("curriculum_") or key == "use_curriculum":
            _set_curriculum(config.curriculum, key, value)
        elif key in TRAINED_KEYS:
            from procpre.transfer import COMPONENTS, parse_components

            trained = parse_components(value if isinstance(value, (list, str)) else str(value))
            config.freeze = [c for c in COMPONENTS if c not in trained]
        elif key in ("use_wandb",):
            if value:
                config.report_to = sorted({*config.report_to, "wandb"})
        elif key == "wandb_mode":
            continue  # honoured by wandb itself through WANDB_MODE
        elif key in fields and key not in ("curriculum", "task_params"):
            setattr(config, key, _coerce(key, value, getattr(config, key)))
        elif key in other_params:
            continue  # a parameter of another task family (release files share keys across tasks)
        else:
            raise ConfigError(f"unknown recipe key {key!r}; see `procpre pretrain --help` or procpre/config.py")
    if config.wandb_project and "wandb" not in config.report_to:
        config.report_to = [*config.report_to, "wandb"]
    if values.get("max_steps") is None and config.steps_per_epoch and config.epochs:
        config.max_steps = config.steps_per_epoch * config.epochs
    config.task_params = task_params
    return config.validate()


def _set_curriculum(curriculum: Curriculum, key: str, value: Any) -> None:
    name = "enabled" if key == "use_curriculum" else key.removeprefix("curriculum_")
    name = {
        "min_length": "start_length",
        "start": "start_length",
        "length_step": "step",
        "increment": "step",
        "acc_threshold": "threshold",
        "accuracy_threshold": "threshold",
    }.get(name, name)
    if not hasattr(curriculum, name):
        raise ConfigError(
            f"unknown curriculum key {key!r}; known: use_curriculum, curriculum_start_length, "
            "curriculum_step, curriculum_threshold, curriculum_metric"
        )
    setattr(curriculum, name, _coerce(key, value, getattr(curriculum, name)))


def load_config(path: str | os.PathLike[str] | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a YAML recipe (release or procpre keys), apply overrides, validate."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        loaded = read_yaml(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of recipe keys, got {type(loaded).__name__}")
        values.update(_flatten(loaded))
    values.update(overrides or {})
    return build_config(values)


def _flatten(tree: dict[str, Any]) -> dict[str, Any]:
    """Accept nested sections (`model: {size: ...}`) as well as the release's flat keys."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and key not in ("task_params",):
            for sub, inner in value.items():
                flat[sub if key in ("training", "data", "model", "optim", "logging") else f"{key}_{sub}"] = inner
        else:
            flat[key] = value
    return flat


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """`["--lr", "1e-3", "--max_steps=10"]` -> {"lr": "1e-3", "max_steps": "10"} (typed later)."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"expected --key value, got {arg!r}")
        key = arg[2:].replace("-", "_")
        if "=" in key:
            key, value = key.split("=", 1)
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = args[i + 1]
            i += 1
        else:
            value = "true"
        out[key] = value
        i += 1
    return out


def dump_config(config: TrainConfig, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(yaml.safe_dump(config.as_dict(), sort_keys=False))
