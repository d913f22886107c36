"""evaluate metric: token accuracy over masked positions and exact match per sample.

Load with `evaluate.load("<procpre>/metrics/sequence_accuracy")` (works offline).
Inputs are per-sample sequences of next-token predictions, targets and a 0/1 mask
of the positions to score; a sample is an exact match when every scored position
is right.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Token accuracy over the scored (masked) positions, and per-sample exact match."
_KWARGS = """
Args:
    predictions: list of int sequences (argmax next-token predictions).
    references: list of int sequences (the targets), same lengths.
    mask: list of 0/1 sequences; 1 marks a scored position.
Returns:
    accuracy: correct scored tokens / scored tokens.
    exact_match: fraction of samples with every scored token correct.
    scored_tokens: how many positions were scored.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class SequenceAccuracy(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("int64")),
                    "references": datasets.Sequence(datasets.Value("int64")),
                    "mask": datasets.Sequence(datasets.Value("int8")),
                }
            ),
        )

    def _compute(self, predictions, references, mask):
        hits, scored, exact = 0, 0, 0
        for pred, ref, m in zip(predictions, references, mask):
            m = np.asarray(m, dtype=bool)
            right = np.asarray(pred)[m] == np.asarray(ref)[m]
            hits += int(right.sum())
            scored += int(m.sum())
            exact += int(right.all())
        return {
            "accuracy": hits / scored if scored else 0.0,
            "exact_match": exact / len(predictions) if len(predictions) else 0.0,
            "scored_tokens": scored,
        }
