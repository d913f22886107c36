"""Hugging Face `datasets` builders, one per task family. Each is a thin list of configs over procpre."""

from builders.downstream import DownstreamTasks
from builders.sequence import SequenceTasks

__all__ = ["DownstreamTasks", "SequenceTasks"]
