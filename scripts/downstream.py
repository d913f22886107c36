"""Entry point for `accelerate launch scripts/downstream.py --config RECIPE.yaml [--key value ...]`.

The recipe names the downstream task and, optionally, what to transfer (the release's keys work:
`pretrained_model_path`, `weights_to_be_transferred`, `weights_to_be_trained`, `embedding_init_strategy`).
"""

import sys

from procpre.cli import main

if __name__ == "__main__":
    main(["downstream", "algorithmic", *sys.argv[1:]])
