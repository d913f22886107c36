"""Where a haystack model fails: test accuracy by number of key/value pairs and by the queried pair's place.

A plateau below 100 % (finding 1's arms level off at 83-92 %) is either a class of samples the model never
learns or errors spread over all of them; this tells which. Each checkpoint is scored on the fixed test set
its run was scored on (the same predictions as `test_metrics.json`: the totals are checked against it).

    python3 benchmarks/haystack_errors.py runs/haystack-gap/runs/*/seed-0/checkpoint-10000 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from transformers import AutoModelForCausalLM

from procpre.checkpoint import read_run_meta
from procpre.config import load_config
from procpre.data import fixed_test_set
from procpre.downstream import TEST_METRICS, predict_next_tokens

KEY = 128  # keys are written key+128, queries query+N+128 (procpre.tasks.downstream.CondAttendStream)
BINS = ((1, 5), (6, 10), (11, 15), (16, 20), (21, 25), (26, 30))


def per_sample(checkpoint: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Whether each test sample's answer is right, its pair count, the queried pair's index, and N."""
    config = read_run_meta(checkpoint)["config"]
    task = load_config(None, {"task": config["task"], **config["task_params"]}).build_task()
    block = fixed_test_set(task, int(config["seed"]))
    ids, n = block.input_ids, task.n
    answer = block.loss_mask[:, :-1].argmax(1)  # the one scored position: the query, predicting its value
    predicted = predict_next_tokens(AutoModelForCausalLM.from_pretrained(checkpoint), block, 1000)
    rows = np.arange(len(ids))
    right = predicted[rows, answer] == ids[rows, answer + 1]
    pairs = ((ids >= KEY) & (ids < KEY + n)).sum(1)
    query = ids[rows, answer] - n  # = the queried key's token
    place = np.argmax(ids[:, : 2 * n : 2] == query[:, None], axis=1)  # which pair holds it (0 = first)
    return right, pairs, place, n


def table(right: np.ndarray, groups: np.ndarray, bins: tuple[tuple[int, int], ...]) -> dict[str, dict[str, float]]:
    out = {}
    for lo, hi in bins:
        chosen = (groups >= lo) & (groups <= hi)
        if chosen.any():
            out[f"{lo}-{hi}"] = {"samples": int(chosen.sum()), "accuracy": float(right[chosen].mean())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for checkpoint in args.checkpoints:
        right, pairs, place, n = per_sample(checkpoint)
        recorded = json.loads((checkpoint / TEST_METRICS).read_text())["exact_match"]
        if not np.isclose(right.mean(), recorded):
            raise SystemExit(f"{checkpoint}: scored {right.mean():.4f} here but {recorded:.4f} in {TEST_METRICS}")
        results[str(checkpoint)] = {
            "accuracy": float(right.mean()),
            "samples": len(right),
            "by_pairs": table(right, pairs, BINS),
            "by_queried_pair": table(right, place + 1, BINS),
        }
    arms = list(results)
    titles = {"by_pairs": "pairs in the sample", "by_queried_pair": "place of the queried pair (1 = first)"}
    for key, title in titles.items():
        bins = list(results[arms[0]][key])
        print(f"\nTest accuracy (%) by {title}\n")
        print("| checkpoint | all | " + " | ".join(bins) + " |")
        print("|---|---|" + "---|" * len(bins))
        for arm in arms:
            row = results[arm]
            cells = [f"{100 * row[key][b]['accuracy']:.1f}" if b in row[key] else "–" for b in bins]
            print(f"| {arm} | {100 * row['accuracy']:.2f} | " + " | ".join(cells) + " |")
        samples = [str(results[arms[0]][key][b]["samples"]) for b in bins]
        print(f"| samples | {results[arms[0]]['samples']} | " + " | ".join(samples) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
