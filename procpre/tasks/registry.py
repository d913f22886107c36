"""Task registry: one name per task class, looked up with a helpful error."""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from procpre.tasks.base import Task, TaskError

TASKS: dict[str, type[Task]] = {}
T = TypeVar("T", bound=type[Task])


def register(cls: T) -> T:
    if cls.name in TASKS:
        raise RuntimeError(f"task {cls.name!r} registered twice")
    TASKS[cls.name] = cls
    return cls


def task_class(name: str) -> type[Task]:
    from procpre import tasks as _  # noqa: F401  (imports every task module)

    if name in TASKS:
        return TASKS[name]
    close = difflib.get_close_matches(name, TASKS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise TaskError(f"unknown task {name!r}.{hint} Known tasks: {', '.join(sorted(TASKS))}")


def parse_task_id(name: str) -> tuple[str, dict[str, Any]]:
    """`condattendstream_30` -> ("condattendstream", {"n": 30}) for tasks that declare `ID_PARAMS`.

    The published downstream ids put parameters in the name; `forwardaddition_3_5`
    fills two (a digit range). Plain names pass through unchanged.
    """
    from procpre import tasks as _  # noqa: F401

    if name in TASKS:
        return name, {}
    base, *numbers = name.split("_")
    while numbers and not numbers[0].isdigit():  # names with underscores, e.g. dyck_shuffle
        base += "_" + numbers.pop(0)
    cls = TASKS.get(base)
    fields = getattr(cls, "ID_PARAMS", ())
    if cls is None or not numbers or not all(n.isdigit() for n in numbers) or len(numbers) > len(fields):
        return name, {}
    values = [int(n) for n in numbers]
    if len(values) < len(fields):  # `forwardaddition_5` = a range of one length
        values += [values[-1]] * (len(fields) - len(values))
    return base, dict(zip(fields, values))


def get_task(name: str, **params: Any) -> Task:
    """Build a validated task by name or published id (`procpre tasks` lists names and parameters)."""
    base, from_id = parse_task_id(name)
    clash = sorted(set(from_id) & set(params))
    if clash:
        raise TaskError(f"{name}: {', '.join(clash)} given both in the task id and as parameters")
    return task_class(base)(**from_id, **params)


def task_from_config(config: dict[str, Any]) -> Task:
    """Inverse of `Task.config_dict`."""
    config = dict(config)
    return get_task(config.pop("task"), **config)
