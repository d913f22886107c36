"""Every procedural and downstream task, behind one interface (`procpre.tasks.base.Task`)."""

# Importing a task module registers its tasks.
from procpre.tasks import corpus, downstream, dyck, eca, mixture, sequence, stack  # noqa: F401
from procpre.tasks.base import Block, Param, Task, TaskError
from procpre.tasks.registry import TASKS, get_task, task_class, task_from_config

__all__ = ["TASKS", "Block", "Param", "Task", "TaskError", "get_task", "task_class", "task_from_config"]
