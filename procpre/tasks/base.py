"""The one task interface: a pure, vectorised map from an address to a block of samples.

A task is built once from validated parameters, then answers three questions:
what does a block of samples look like (`sample`), is a sequence a correct
instance of the task (`verify`), and how does a sequence read to a human
(`decode`). Seeding and addressing live in `procpre.data`, not here: `sample`
receives a ready `numpy.random.Generator` and must draw everything from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

#: a grouping of samples: each sample's group index, and the groups' labels in reading order
Grouping = tuple[np.ndarray, tuple[str, ...]]


def equal_bins(values: np.ndarray, low: int, high: int, count: int = 6) -> Grouping:
    """Integers in low..high as at most `count` equal ranges labelled `lo-hi` (a single value: `lo`)."""
    width = -(-(high - low + 1) // count)
    labels = tuple(
        f"{lo}-{min(lo + width - 1, high)}" if min(lo + width - 1, high) > lo else str(lo)
        for lo in range(low, high + 1, width)
    )
    return (np.asarray(values) - low) // width, labels


class TaskError(ValueError):
    """Bad task name or parameters; the message says what to change."""


@dataclass(frozen=True)
class Param:
    """One task parameter: its type, default and allowed range, for validation and `procpre tasks`."""

    name: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def kind(self) -> type:
        return type(self.default)

    def describe_range(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind is bool:
            return "true or false"
        fmt = "{:,}" if self.kind is int else "{:g}"
        lo = "-inf" if self.low is None else fmt.format(self.low)
        hi = "inf" if self.high is None else fmt.format(self.high)
        return f"{self.kind.__name__} in [{lo}, {hi}]"

    def coerce(self, task: str, value: Any) -> Any:
        """Turn a user value (possibly a CLI string) into the parameter's type, or raise TaskError."""
        kind = self.kind
        try:
            if kind is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low not in {"true", "false", "1", "0", "yes", "no"}:
                        raise ValueError(value)
                    value = low in {"true", "1", "yes"}
                elif not isinstance(value, (bool, np.bool_, int)) or value not in (0, 1):
                    raise ValueError(value)
                value = bool(value)
            elif kind is int:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                if isinstance(value, bool):
                    raise ValueError(value)
                value = int(value)
            elif kind is float:
                value = float(value)
            else:
                value = kind(value)
        except (TypeError, ValueError):
            raise TaskError(f"{task}: parameter '{self.name}' must be {self.describe_range()}, got {value!r}") from None
        if self.choices is not None and value not in self.choices:
            raise TaskError(f"{task}: parameter '{self.name}' must be {self.describe_range()}, got {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise TaskError(f"{task}: parameter '{self.name}' must be {self.describe_range()}, got {value!r}")
        return value


SHUFFLE = Param("shuffle", False, "control: permute each sample's non-pad tokens (same tokens, structure destroyed)")


def shuffle_tokens(rng: np.random.Generator, ids: np.ndarray, pad: int) -> np.ndarray:
    """Permute the non-pad tokens of each row among the non-pad slots; the loss mask is left as it was."""
    content = ids != pad
    source = np.argsort(np.where(content, rng.random(ids.shape), 2.0), axis=1)  # content first, random order
    slots = np.argsort(~content, axis=1, kind="stable")  # content slots first, in order
    out = np.empty_like(ids)
    np.put_along_axis(out, slots, np.take_along_axis(ids, source, axis=1), axis=1)
    return out


@dataclass
class Block:
    """A block of samples: token ids, the next-token loss mask, and one task tag per sample."""

    input_ids: np.ndarray  # [n, T] int32
    loss_mask: np.ndarray  # [n, T] bool: position i scores the prediction of token i+1
    task: np.ndarray  # [n] str

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def __getitem__(self, index: slice | np.ndarray) -> Block:
        return Block(self.input_ids[index], self.loss_mask[index], self.task[index])

    @staticmethod
    def concatenate(blocks: list[Block]) -> Block:
        return Block(
            np.concatenate([b.input_ids for b in blocks]),
            np.concatenate([b.loss_mask for b in blocks]),
            np.concatenate([b.task for b in blocks]),
        )


class Task:
    """Base class of every procedural and downstream task.

    Subclasses declare `name`, `PARAMS`, and implement `_check`, `_generate`,
    `verify` and `decode_token`. Instances are immutable and hashable by their
    parameters, so they can key caches and be recorded in metadata.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    #: samples per seeded block; part of a sample's address, so never change it for a task
    block_size: ClassVar[int] = 1024
    #: "sequence" (prompt -> scored answer) or "language" (every next token scored)
    kind: ClassVar[str] = "sequence"
    #: procedural tasks get the `shuffle` control option; downstream benchmarks and corpora do not
    shuffle_control: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("PARAMS")
        if cls.shuffle_control and isinstance(own, tuple) and all(p.name != "shuffle" for p in own):
            cls.PARAMS = (*own, SHUFFLE)

    def __init__(self, **params: Any) -> None:
        known = {p.name: p for p in self.PARAMS}
        unknown = sorted(set(params) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise TaskError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}; allowed: {allowed}")
        values = {p.name: p.default for p in self.PARAMS}
        for key, value in params.items():
            values[key] = known[key].coerce(self.name, value)
        self.params: dict[str, Any] = values
        self._check()

    def __getattr__(self, item: str) -> Any:
        params = self.__dict__.get("params")
        if params is not None and item in params:
            return params[item]
        raise AttributeError(item)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.params == self.params  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items()))))

    # -- what subclasses provide -------------------------------------------------------
    def _check(self) -> None:
        """Cross-parameter constraints; raise TaskError naming the field and the allowed range."""

    @property
    def vocab_size(self) -> int:
        """Size of the model vocabulary the samples need."""
        raise NotImplementedError

    @property
    def length(self) -> int:
        """Total tokens per sample (every sample of a task has the same length)."""
        raise NotImplementedError

    @property
    def pad_id(self) -> int:
        raise NotImplementedError

    def _generate(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw `n` samples: (input_ids [n, T] int, loss_mask [n, T] bool)."""
        raise NotImplementedError

    def verify(self, input_ids: np.ndarray) -> np.ndarray:
        """Whether each row of `input_ids` [n, T] is a correct instance of the task -> bool [n]."""
        raise NotImplementedError

    def decode_token(self, token: int) -> str:
        raise NotImplementedError

    def metric_masks(self, input_ids: np.ndarray) -> dict[str, np.ndarray]:
        """Extra named scoring masks (same convention as loss_mask) reported as `<name>_accuracy`.

        Downstream tasks add the published metric's mask here, so it is reported
        under its own name beside the whole-answer accuracy.
        """
        return {}

    def error_groups(self, input_ids: np.ndarray) -> dict[str, Grouping]:
        """Named groupings of samples that the test score is broken down by; none by default.

        A plateau below 100 % is either a class of samples never learned or errors
        spread over all of them: a grouping by what makes a sample hard tells which.
        """
        return {}

    def stored_block(self, seed: int, split: str, block: int) -> Block | None:
        """For data read from disk (text corpora): block `block` of `split`; generated tasks return None."""
        return None

    @property
    def heldout_size(self) -> int:
        """How many distinct test samples the training stream must never emit (0: no filtering)."""
        return int(self.params.get("test_size", 0))

    # -- shared behaviour --------------------------------------------------------------
    def sample(self, rng: np.random.Generator, n: int) -> Block:
        ids, mask = self._generate(rng, n)
        if self.params.get("shuffle"):
            ids = shuffle_tokens(rng, ids, self.pad_id)
        return Block(ids.astype(np.int32, copy=False), mask.astype(bool, copy=False), np.full(n, self.name))

    def decode(self, input_ids: np.ndarray, loss_mask: np.ndarray | None = None) -> str:
        """A human reading of one sample; scored tokens (targets) are wrapped in [ ]."""
        scored = np.zeros(len(input_ids), bool)
        if loss_mask is not None:
            scored[1:] = np.asarray(loss_mask, bool)[:-1]
        parts = []
        for tok, hit in zip(np.asarray(input_ids).tolist(), scored.tolist()):
            text = self.decode_token(int(tok))
            parts.append(f"[{text}]" if hit else text)
        return " ".join(parts)

    def config_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the task: its name and parameters."""
        return {"task": self.name, **self.params}


def params_table(cls: type[Task]) -> list[dict[str, Any]]:
    return [{"name": p.name, "default": p.default, "range": p.describe_range(), "help": p.help} for p in cls.PARAMS]


def replace_params(task: Task, **changes: Any) -> Task:
    """A copy of `task` with some parameters changed (validated again)."""
    return type(task)(**{**task.params, **changes})


__all__ = ["Block", "Param", "Task", "TaskError", "params_table", "replace_params"]
