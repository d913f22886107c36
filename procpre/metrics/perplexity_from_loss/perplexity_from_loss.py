"""evaluate metric: perplexity from summed token losses (the model is evaluated elsewhere).

`evaluate`'s own perplexity metric downloads a model by name; here the training loop
already has the summed cross-entropy per batch, so this metric only aggregates.
"""

import math

import datasets
import evaluate

_DESCRIPTION = "exp(total cross-entropy / total scored tokens), aggregated over batches."
_KWARGS = """
Args:
    loss_sums: summed natural-log cross-entropy of each batch.
    token_counts: scored tokens of each batch.
Returns:
    perplexity, mean_loss, tokens.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class PerplexityFromLoss(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"loss_sums": datasets.Value("float64"), "token_counts": datasets.Value("int64")}
            ),
        )

    def _compute(self, loss_sums, token_counts):
        tokens = int(sum(token_counts))
        mean = float(sum(loss_sums)) / tokens if tokens else float("nan")
        return {"perplexity": math.exp(mean) if tokens else float("nan"), "mean_loss": mean, "tokens": tokens}
