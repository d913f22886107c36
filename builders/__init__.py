"""Hugging Face `datasets` builders, one per task family. Each is a thin list of configs over procpre."""

from builders.sequence import SequenceTasks

__all__ = ["SequenceTasks"]
