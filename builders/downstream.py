"""Downstream algorithmic tasks: needle in a haystack, addition, reversed addition, multiplication, sorting."""

from procpre.builder import ProceduralBuilder


class DownstreamTasks(ProceduralBuilder):
    """`DownstreamTasks(config_name="forwardaddition", params={"min_digits": 3}).as_streaming_dataset("train")`."""

    TASK_NAMES = ("condattendstream", "forwardaddition", "additionstream", "multiplication", "sorting")
