"""Transfer parts of procedurally pretrained GPT-2s into a downstream model.

Components (SPEC.md): `attn` (attn.c_attn, attn.c_proj), `ffn` (mlp), `ln` (ln_1,
ln_2, ln_f), `embed` (wte, wpe, lm_head), `everything`; `pos` names the position
embeddings (wpe) alone, so they can travel without the token embeddings (`embed` is
`pos` plus the token rows). Token embeddings are never
copied across vocabularies as they are: `average` sets every row to the mean
pretrained embedding, `retain` copies them (vocabularies must match),
`partial_matching` copies the overlapping rows and averages the rest. Position
embeddings are copied when the source has at least as many positions. Buffers
(the causal mask) are never copied. Any component can be frozen, and different
components can come from different checkpoints (weight mixing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel

COMPONENTS = ("attn", "ffn", "ln", "embed", "pos")
ALL = "everything"
# `embed` as a user names it: the token rows (wte, lm_head; internally "embed") and the positions.
GROUPS = {"embed": ("embed", "pos")}
EMBEDDING_STRATEGIES = ("average", "retain", "partial_matching")


class TransferError(ValueError):
    """The transfer cannot be done as asked; the message names the component, shape or path."""


def component_of(name: str) -> str | None:
    """Which component a GPT-2 parameter belongs to (None for anything else)."""
    if ".attn.c_attn." in name or ".attn.c_proj." in name:
        return "attn"
    if ".mlp." in name:
        return "ffn"
    if ".ln_1." in name or ".ln_2." in name or "ln_f." in name:
        return "ln"
    if "wpe." in name:
        return "pos"
    if "wte." in name or name.startswith("lm_head."):
        return "embed"
    return None


def parse_components(spec: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """`"attn,ffn"` -> ["attn", "ffn"]; `everything` and `embed` (tokens + `pos`) expand; unknown names are an error."""
    if spec is None:
        return []
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s and s.strip()]
    out: list[str] = []
    for item in items:
        if item == ALL:
            out.extend(c for c in COMPONENTS if c not in out)
        elif item in COMPONENTS:
            out.extend(c for c in GROUPS.get(item, (item,)) if c not in out)
        elif item in ("none", ""):
            continue
        else:
            raise TransferError(f"unknown component {item!r}; choose from {', '.join((*COMPONENTS, ALL))}")
    return out


@dataclass
class Source:
    """A pretrained checkpoint: its weights and architecture (layers, heads, width, vocab, positions)."""

    name: str
    state: dict[str, torch.Tensor]
    layers: int
    heads: int | None
    width: int
    vocab: int
    positions: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> str:
        return f"{self.layers}_{self.heads if self.heads is not None else '?'}_{self.width}"


def _clean_state(raw: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Unwrap the containers a `.pth` may use and strip DDP / compile prefixes."""
    for key in ("model_state_dict", "state_dict", "model"):
        if key in raw and isinstance(raw[key], dict):
            raw = raw[key]
    state = {}
    for key, value in raw.items():
        if not isinstance(value, torch.Tensor):
            continue
        for prefix in ("module.", "_orig_mod."):
            key = key.removeprefix(prefix)
        if not key.startswith(("transformer.", "lm_head.")):
            key = "transformer." + key
        state[key] = value
    return state


def load_source(path_or_repo: str | os.PathLike[str], revision: str | None = None) -> Source:
    """A checkpoint directory, a Hub repo id (optionally at `revision`), or a release `.pth` file."""
    text = str(path_or_repo)
    path = Path(text)
    if text.endswith((".pth", ".pt", ".bin")):
        if not path.is_file():
            raise TransferError(f"pretrained checkpoint {text} does not exist")
        state = _clean_state(torch.load(path, map_location="cpu", weights_only=True))
        return _source_from_state(text, state, heads=None, meta={})
    if path.exists() and not (path / "config.json").exists():
        raise TransferError(f"{text} is not a model directory (no config.json); point at a checkpoint-<step> folder")
    if not path.exists() and (text.count("/") != 1 or text.startswith((".", "/"))):
        raise TransferError(f"pretrained checkpoint {text} does not exist (neither a folder nor a Hub repo id)")
    try:
        model = AutoModelForCausalLM.from_pretrained(text, revision=revision)
    except OSError as err:
        where = "" if path.exists() else " (no such folder here, so it was tried as a Hub repo id)"
        reason = str(err).splitlines()[0]
        raise TransferError(f"could not load pretrained model {text!r}{where}: {reason}") from None
    meta = {}
    if path.is_dir() and (path / "procpre_run.json").exists():
        meta = json.loads((path / "procpre_run.json").read_text())
    cfg = model.config
    return Source(
        text, dict(model.state_dict()), cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.vocab_size, cfg.n_positions, meta
    )


def _source_from_state(name: str, state: dict[str, torch.Tensor], heads: int | None, meta: dict) -> Source:
    try:
        wte, wpe = state["transformer.wte.weight"], state["transformer.wpe.weight"]
    except KeyError:
        raise TransferError(f"{name} does not hold GPT-2 weights (no transformer.wte / wpe)") from None
    layers = 1 + max((int(k.split(".")[2]) for k in state if k.startswith("transformer.h.")), default=-1)
    return Source(name, state, layers, heads, wte.shape[1], wte.shape[0], wpe.shape[0], meta)


def embeddings_state(plan: Mapping[str, str], embedding_init: str) -> str:
    """How the token embeddings started: the strategy applies only when the plan copies `embed`, else fresh."""
    return embedding_init if "embed" in plan else "fresh"


@dataclass
class TransferReport:
    """What the transfer did, per component: tensors and parameters copied, initialised, frozen."""

    plan: dict[str, str]  # component -> source name
    embedding_init: str
    copied: dict[str, int] = field(default_factory=dict)
    initialised: dict[str, int] = field(default_factory=dict)
    frozen: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{c} from {s}" for c, s in self.plan.items()] or ["nothing transferred"]
        if self.frozen:
            parts.append("frozen " + ",".join(sorted(self.frozen)))
        return "; ".join(parts) + f"; embeddings: {embeddings_state(self.plan, self.embedding_init)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "embedding_init": self.embedding_init,
            "copied": self.copied,
            "initialised": self.initialised,
            "frozen": self.frozen,
            "notes": self.notes,
            "summary": self.summary(),
            "source": ", ".join(sorted(set(self.plan.values()))) or "-",
        }


def _check_architecture(source: Source, target: PreTrainedModel, component: str) -> None:
    cfg = target.config
    target_shape = f"{cfg.n_layer}_{cfg.n_head}_{cfg.n_embd}"
    heads_differ = source.heads is not None and source.heads != cfg.n_head
    if source.layers != cfg.n_layer or source.width != cfg.n_embd or (heads_differ and component == "attn"):
        raise TransferError(
            f"cannot transfer {component!r}: pretrained {source.name} is {source.shape} (layers_heads_width) "
            f"but the downstream model is {target_shape}; use the same model size"
        )


def _embedding_rows(source_rows: torch.Tensor, target_rows: int, strategy: str, what: str) -> torch.Tensor:
    mean = source_rows.float().mean(dim=0, keepdim=True)
    if strategy == "average":
        return mean.expand(target_rows, -1).clone()
    if strategy == "retain":
        if source_rows.shape[0] != target_rows:
            raise TransferError(
                f"embedding_init 'retain' needs equal vocabularies, but {what} has {source_rows.shape[0]} rows "
                f"and the downstream vocabulary {target_rows}; use 'average' or 'partial_matching'"
            )
        return source_rows.float().clone()
    out = mean.expand(target_rows, -1).clone()
    overlap = min(target_rows, source_rows.shape[0])
    out[:overlap] = source_rows[:overlap].float()
    return out


@torch.no_grad()
def transfer(
    target: PreTrainedModel,
    sources: dict[str, Source],
    embedding_init: str = "average",
    freeze: list[str] | None = None,
) -> TransferReport:
    """Copy each component from its source into `target` in place; freeze `freeze`; report counts.

    `sources` maps component -> Source, e.g. {"attn": set_model, "ffn": eca_model} mixes weights.
    """
    if embedding_init not in EMBEDDING_STRATEGIES:
        raise TransferError(f"embedding_init must be one of {', '.join(EMBEDDING_STRATEGIES)}, got {embedding_init!r}")
    for component in sources:
        if component not in COMPONENTS:
            raise TransferError(f"unknown component {component!r}; choose from {', '.join((*COMPONENTS, ALL))}")
    sources = {c: source for component, source in sources.items() for c in GROUPS.get(component, (component,))}
    report = TransferReport({c: s.name for c, s in sources.items()}, embedding_init)
    params = dict(target.named_parameters())
    for component, source in sources.items():
        if component not in GROUPS["embed"]:
            _check_architecture(source, target, component)
    for name, param in params.items():
        component = component_of(name)
        source = sources.get(component) if component else None
        if source is None:
            continue
        if component in GROUPS["embed"]:
            copied = _transfer_embedding(name, param, source, embedding_init, report)
        else:
            value = source.state.get(name)
            if value is None or value.shape != param.shape:
                raise TransferError(f"{source.name} has no tensor {name} of shape {tuple(param.shape)}")
            param.copy_(value.to(param.dtype))
            copied = True
        key = report.copied if copied else report.initialised
        key[component] = key.get(component, 0) + param.numel()
    report.frozen = freeze_components(target, freeze)
    return report


def freeze_components(model: torch.nn.Module, components: list[str] | str | None) -> dict[str, int]:
    """Stop gradients to the named components; returns frozen parameter counts per component."""
    wanted = parse_components(components)
    frozen: dict[str, int] = {}
    for name, param in model.named_parameters():
        component = component_of(name)
        if component in wanted:
            param.requires_grad_(False)
            frozen[component] = frozen.get(component, 0) + param.numel()
    return frozen


def _transfer_embedding(
    name: str, param: torch.nn.Parameter, source: Source, strategy: str, rep: TransferReport
) -> bool:
    if "wpe." in name:
        src = source.state["transformer.wpe.weight"]
        if src.shape[1] != param.shape[1]:
            raise TransferError(f"position embeddings: width {src.shape[1]} in {source.name} vs {param.shape[1]}")
        if src.shape[0] >= param.shape[0]:
            param.copy_(src[: param.shape[0]].to(param.dtype))
            return True
        rep.notes.append(f"wpe kept fresh: {source.name} has {src.shape[0]} positions < {param.shape[0]} needed")
        return False
    key = "transformer.wte.weight" if "wte." in name else "lm_head.weight"
    src = source.state.get(key, source.state["transformer.wte.weight"])
    if src.shape[1] != param.shape[1]:
        raise TransferError(f"token embeddings: width {src.shape[1]} in {source.name} vs {param.shape[1]}")
    param.copy_(_embedding_rows(src, param.shape[0], strategy, source.name).to(param.dtype))
    return True


def plan_paths(pretrained: str | None, components: list[str], mix: dict[str, str] | None = None) -> dict[str, str]:
    """Component -> checkpoint path from `--pretrained P --transfer a,b` plus `--mix component=PATH` overrides."""
    wanted = parse_components(components)
    if wanted and not pretrained and not mix:
        raise TransferError("components to transfer were given but no --pretrained checkpoint")
    paths = {c: str(pretrained) for c in wanted} if pretrained else {}
    for component, path in (mix or {}).items():
        paths.update({c: str(path) for c in parse_components(component)})
    return paths


def build_plan(pretrained: str | None, components: list[str], mix: dict[str, str] | None = None) -> dict[str, Source]:
    """Component -> Source (each checkpoint loaded once) for `plan_paths`."""
    cache: dict[str, Source] = {}
    plan = {}
    for component, path in plan_paths(pretrained, components, mix).items():
        if path not in cache:
            cache[path] = load_source(path)
        plan[component] = cache[path]
    return plan
