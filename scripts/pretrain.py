"""Entry point for `accelerate launch scripts/pretrain.py --config RECIPE.yaml [--key value ...]`."""

from procpre.cli import main

if __name__ == "__main__":
    main(["pretrain", *__import__("sys").argv[1:]])
