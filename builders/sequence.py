"""Sequence tasks of the paper: identity, reverse, sort, set, union, delete, and ww."""

from procpre.builder import ProceduralBuilder


class SequenceTasks(ProceduralBuilder):
    """`SequenceTasks(config_name="set", params={"seq_length": 32}).as_streaming_dataset("train")`."""

    TASK_NAMES = ("identity", "reverse", "sort", "set", "union", "delete", "ww")
