"""Mixtures: one stream drawing each sample from one of several tasks, with given weights.

Each sample picks its component with the block's generator; every component then
draws its samples from its own child generator (`rng.spawn`), so a mixture is as
deterministic as any task, and components draw independent inputs (the published
release gave set, sort, ... the same inputs for the same index). Samples
are tagged with their component's name (`Block.task`). The model vocabulary is the
largest component vocabulary and the length the longest component length: shorter
samples are right-padded with their component's PAD, unscored. Sequence tasks with
the same `vocab_size` share one layout (SEP = V, PAD = V+1).

Two ways to build one:

>>> from procpre.tasks import get_task
>>> from procpre.tasks.mixture import Mixture
>>> mix = get_task("mixture", components="set,sort,union", weights="1,1,2", seq_length=4, vocab_size=10)
>>> mix == Mixture(tasks=[get_task(n, seq_length=4, vocab_size=10) for n in ("set", "sort", "union")],
...                weights=[1, 1, 2])
True
>>> get_task("mixture", components="sort(seq_length=3),dyck(k=2,seq_length=8)").config_dict()["components"]
'sort(seq_length=3,vocab_size=100),dyck(k=2,seq_length=8,p_open=0.5)'

`components` is a comma-separated list of task names, each optionally followed by its
own parameters in parentheses, e.g. `"sort(seq_length=8),dyck(k=4,seq_length=16)"`;
other keyword parameters are shared: passed to every component that accepts them
(a component's own parameters win).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from procpre.tasks.base import Block, Param, Task, TaskError
from procpre.tasks.registry import register, task_class

_ITEM = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*$", re.DOTALL)


class TextParam(Param):
    """A free-text parameter (the mixture's component list and weights)."""

    def describe_range(self) -> str:
        return "text"


def split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise TaskError(f"mixture: parameter 'components' has an unmatched ')': {text!r}")
        if char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if depth:
        raise TaskError(f"mixture: parameter 'components' has an unmatched '(': {text!r}")
    return [*items, text[start:]]


def parse_component(item: str, shared: dict[str, Any]) -> Task:
    """One `name(key=value,...)` item, with the shared parameters its task accepts."""
    match = _ITEM.match(item)
    if not match:
        raise TaskError(f"mixture: parameter 'components' needs items like name or name(key=value,...), got {item!r}")
    name, inner = match.group(1), match.group(2)
    cls = task_class(name)
    if cls is Mixture:
        raise TaskError("mixture: parameter 'components' cannot contain another mixture")
    accepted = {p.name for p in cls.PARAMS}
    params = {key: value for key, value in shared.items() if key in accepted}
    for pair in filter(str.strip, (inner or "").split(",")):
        key, sep, value = pair.partition("=")
        if not sep:
            raise TaskError(f"mixture: parameter 'components' needs key=value inside {name}(...), got {pair.strip()!r}")
        params[key.strip()] = value.strip()
    return cls(**params)


def parse_components(text: str, shared: dict[str, Any]) -> tuple[Task, ...]:
    try:
        tasks = tuple(parse_component(item, shared) for item in split_top_level(text))
    except TaskError as err:
        if str(err).startswith("mixture:"):
            raise
        raise TaskError(f"mixture: parameter 'components': {err}") from None
    unused = sorted(key for key in shared if not any(key in {p.name for p in t.PARAMS} for t in tasks))
    if unused:
        raise TaskError(f"mixture: parameter(s) {', '.join(unused)} accepted by no component ({text})")
    return tasks


def parse_weights(weights: str | Sequence[float] | None, count: int) -> list[float]:
    """Non-negative finite weights, one per component, not all zero (default: equal)."""
    if weights is None or (isinstance(weights, str) and not weights.strip()):
        return [1.0] * count
    try:
        values = [float(w) for w in (weights.split(",") if isinstance(weights, str) else weights)]
    except (TypeError, ValueError):
        raise TaskError(f"mixture: parameter 'weights' must be comma-separated numbers, got {weights!r}") from None
    if len(values) != count:
        raise TaskError(f"mixture: parameter 'weights' needs one weight per component ({count}), got {len(values)}")
    if not all(math.isfinite(w) and w >= 0 for w in values) or sum(values) <= 0:
        raise TaskError(f"mixture: parameter 'weights' must be finite, >= 0 and not all 0, got {weights!r}")
    return values


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_weight(value)
    return str(value)


def format_weight(value: float) -> str:
    text = repr(float(value))
    return text.removesuffix(".0")


def format_component(task: Task) -> str:
    """The canonical `name(key=value,...)` of a task: every parameter explicit."""
    return f"{task.name}({','.join(f'{k}={format_value(v)}' for k, v in task.params.items())})"


def verify_padded(task: Task, input_ids: np.ndarray) -> np.ndarray:
    """`task.verify` of rows right-padded with the task's PAD to a longer length."""
    padded = (input_ids[:, task.length :] == task.pad_id).all(axis=1)
    return padded & task.verify(input_ids[:, : task.length])


OWN_PARAMS = (
    TextParam("components", "", "comma-separated tasks, each optionally name(key=value,...)"),
    TextParam("weights", "", "comma-separated weights, one per component (default: equal)"),
)


class SharedParams:
    """`Mixture.PARAMS`: its own two, then every other task's parameters, which it passes on.

    Computed on access because tasks register after this module loads; listing them lets
    `--param seq_length=8` reach a mixture's components from the CLI.
    """

    def __get__(self, obj: object, owner: type) -> tuple[Param, ...]:
        from procpre.tasks.registry import TASKS

        params = {p.name: p for p in OWN_PARAMS}
        for cls in TASKS.values():
            for p in () if cls is owner else cls.PARAMS:
                if p.name not in params:
                    params[p.name] = TextParam(p.name, "", "shared: passed to every component that takes it")
        return tuple(params.values())


@register
class Mixture(Task):
    """Samples drawn from several tasks with weights, each tagged with its task.

    Example (`components="sort,set"`, `weights="3,1"`, L=3, V=10): about three sort
    samples `4 7 1 SEP [1 4 7]` for each set sample `4 7 4 SEP [4 7] PAD`.
    """

    shuffle_control = False

    name = "mixture"
    description = "several tasks in one stream with weights; samples tagged with their task"
    PARAMS: ClassVar[tuple[Param, ...]] = SharedParams()  # type: ignore[assignment]
    block_size = 256
    kind = "mixed"

    def __init__(
        self,
        tasks: Sequence[Task] | None = None,
        components: str | None = None,
        weights: str | Sequence[float] | None = None,
        **shared: Any,
    ) -> None:
        if tasks is not None and components is not None:
            raise TaskError("mixture: give either 'tasks' or 'components', not both")
        if tasks is not None:
            if shared:
                names = ", ".join(sorted(shared))
                raise TaskError(f"mixture: shared parameter(s) {names} need 'components', not 'tasks'")
            members = tuple(tasks)
            if not all(isinstance(t, Task) and not isinstance(t, Mixture) for t in members):
                raise TaskError("mixture: parameter 'tasks' must be a list of (non-mixture) Task instances")
        elif isinstance(components, str) and components.strip():
            members = parse_components(components, shared)
        else:
            raise TaskError("mixture: parameter 'components' is required, e.g. components='set,sort'")
        if not members:
            raise TaskError("mixture: parameter 'tasks' must hold at least one task")
        values = parse_weights(weights, len(members))
        self.tasks = members
        self.probabilities = np.asarray(values) / sum(values)
        self.params = {
            "components": ",".join(format_component(t) for t in members),
            "weights": ",".join(format_weight(w) for w in values),
        }
        kinds = {t.kind for t in members}
        self.kind = kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def vocab_size(self) -> int:
        return max(t.vocab_size for t in self.tasks)

    @property
    def length(self) -> int:
        return max(t.length for t in self.tasks)

    @property
    def pad_id(self) -> int:
        """The components' PAD when they share one, else the first component's (rows keep their own PAD)."""
        return self.tasks[0].pad_id

    # -- generation --------------------------------------------------------------------
    def choose(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Component index of each sample (a zero weight is never chosen)."""
        cdf = np.cumsum(self.probabilities)
        cdf[-1] = 1.0
        return np.searchsorted(cdf, rng.random(n), side="right")

    def sample(self, rng: np.random.Generator, n: int) -> Block:
        which = self.choose(rng, n)
        children = rng.spawn(len(self.tasks))
        ids = np.empty((n, self.length), dtype=np.int32)
        mask = np.zeros((n, self.length), dtype=bool)
        for c, (task, child) in enumerate(zip(self.tasks, children)):
            rows = np.flatnonzero(which == c)
            if rows.size:
                block = task.sample(child, rows.size)
                ids[rows, : task.length] = block.input_ids
                ids[rows, task.length :] = task.pad_id
                mask[rows, : task.length] = block.loss_mask
        names = np.array([t.name for t in self.tasks])
        return Block(ids, mask, names[which])

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        block = self.sample(rng, n)
        return block.input_ids, block.loss_mask

    # -- checking ----------------------------------------------------------------------
    def verify(self, input_ids: np.ndarray, task: np.ndarray | None = None) -> np.ndarray:
        """Whether a component accepts each row, right padding with its own PAD included.

        With tags (`task`, as in `Block.task`) only the components of that name are tried.
        """
        input_ids = np.asarray(input_ids)
        ok = np.zeros(len(input_ids), dtype=bool)
        if input_ids.ndim != 2 or input_ids.shape[1] != self.length:
            return ok
        for member in self.tasks:
            rows = np.arange(len(input_ids)) if task is None else np.flatnonzero(np.asarray(task) == member.name)
            ok[rows] |= verify_padded(member, input_ids[rows])
        return ok

    def component_of(self, input_ids: np.ndarray, task: str | None = None) -> Task:
        """The component a row belongs to: the tagged one, else the first that accepts it."""
        named = [t for t in self.tasks if task is None or t.name == task] or list(self.tasks)
        row = np.asarray(input_ids)[None, :]
        return next((t for t in named if verify_padded(t, row)[0]), named[0])

    def decode(self, input_ids: np.ndarray, loss_mask: np.ndarray | None = None, task: str | None = None) -> str:
        return self.component_of(input_ids, task).decode(input_ids, loss_mask)

    def decode_token(self, token: int) -> str:
        return self.tasks[0].decode_token(token)
