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


def get_task(name: str, **params: Any) -> Task:
    """Build a validated task by name (`procpre tasks` lists names and parameters)."""
    return task_class(name)(**params)


def task_from_config(config: dict[str, Any]) -> Task:
    """Inverse of `Task.config_dict`."""
    config = dict(config)
    return get_task(config.pop("task"), **config)
