"""Entry point for `accelerate launch scripts/pretrain.py --config RECIPE.yaml [--key value ...]`."""

import sys

from procpre.cli import main

if __name__ == "__main__":
    main(["pretrain", *sys.argv[1:]])
