"""The fastest a GPT-2 training step can be on this card: its matrix products and attention timed alone.

MFU compares the step with the card's datasheet peak, but a step of `64 x 129` tokens is made
of narrow products (K = 768) that no library runs at that peak. This times, in bf16, every
product of one optimiser step (forward, input gradient, weight gradient of each linear layer,
and SDPA attention forward + backward) at the step's exact shapes, plus one large square product
for the card's measured ceiling. Their sum is a floor for the step: the MFU it allows is the
most any implementation of the step could reach with every other kernel (LayerNorm, GELU,
AdamW, the loss) for free.

    python3 benchmarks/step_floor.py                      # 12_12_768, batch 64 x 128 positions (the set task)
    python3 benchmarks/step_floor.py --batch 256 --json floor.jsonl   # appends one JSON line
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

DATASHEET_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}


def time_ms(work, device: torch.device, repeats: int = 30, back_to_back: int = 20) -> float:
    """Median milliseconds of one `work()`, after a warm-up.

    On a GPU each sample times `back_to_back` calls between two device events: the launches
    queue ahead of the kernels, so the host's dispatch time (about 10 us, a third of a
    30-us product) is not counted as the kernel's. Timing one call between events counts it
    (the first floor files, benchmarks/h100-2026-11-27b/floor-*.txt, were measured that way).
    """
    for _ in range(5):
        work()
    times = []
    if device.type != "cuda":
        for _ in range(repeats):
            start = time.perf_counter()
            work()
            times.append(1000 * (time.perf_counter() - start))
        return statistics.median(times)
    torch.cuda.synchronize()
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(back_to_back):
            work()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / back_to_back)
    return statistics.median(times)


def fastest_attention(attention, device: torch.device) -> tuple[float, str]:
    """(ms, backend) of the fastest SDPA backend that runs these shapes: the compiled step may pick any of them."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    timings = {}
    for backend in (
        SDPBackend.CUDNN_ATTENTION,
        SDPBackend.FLASH_ATTENTION,
        SDPBackend.EFFICIENT_ATTENTION,
        SDPBackend.MATH,
    ):
        try:
            with sdpa_kernel(backend):
                timings[backend.name] = time_ms(attention, device)
        except RuntimeError:  # not built for this device or these shapes
            continue
    name = min(timings, key=timings.get)
    return timings[name], name


def linear_products(tokens: int, width: int) -> list[tuple[str, int, int, int]]:
    """(name, M, K, N) of each product one block's linear layers need per step (GPT-2 block)."""
    shapes = {
        "qkv": (width, 3 * width),
        "attn_proj": (width, width),
        "fc": (width, 4 * width),
        "mlp_proj": (4 * width, width),
    }
    products = []
    for name, (k, n) in shapes.items():
        products += [
            (f"{name} forward", tokens, k, n),
            (f"{name} grad input", tokens, n, k),
            (f"{name} grad weight", k, tokens, n),
        ]
    return products


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="12_12_768")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seq", type=int, default=128, help="positions the model computes (the set task: 129 - 1)")
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    layers, heads, width = (int(x) for x in args.size.split("_"))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tokens = args.batch * args.seq

    rows = []
    for name, m, k, n in linear_products(tokens, width):
        a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
        ms = time_ms(lambda a=a, b=b: a @ b, device)
        rows.append({"product": name, "m": m, "k": k, "n": n, "ms": ms, "tflops": 2 * m * k * n / ms / 1e9})

    q, k, v = (
        torch.randn(args.batch, heads, args.seq, width // heads, device=device, dtype=dtype, requires_grad=True)
        for _ in range(3)
    )
    grad = torch.randn_like(q)

    def attention() -> None:
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        torch.autograd.grad(out, (q, k, v), grad)

    attention_ms, attention_backend = fastest_attention(attention, device)
    side = 8192 if device.type == "cuda" else 512
    big_a, big_b = (torch.randn(side, side, device=device, dtype=dtype) for _ in range(2))
    ceiling = 2 * side**3 / time_ms(lambda: big_a @ big_b, device) / 1e9

    per_block_ms = sum(r["ms"] for r in rows) + attention_ms
    floor_ms = layers * per_block_ms
    model_flops = 6 * layers * 12 * width * width * tokens + 12 * layers * width * args.seq * tokens
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    peak = next((v for key, v in DATASHEET_TFLOPS.items() if key in name), None)
    result = {
        "device": name,
        "torch": torch.__version__,
        "size": args.size,
        "batch": args.batch,
        "seq": args.seq,
        "tokens_per_step": tokens,
        "products": rows,
        "attention_fwd_bwd_ms": attention_ms,
        "attention_backend": attention_backend,
        "measured_ceiling_tflops": ceiling,
        "datasheet_tflops": peak,
        "floor_ms_per_step": floor_ms,
        "model_tflop_per_step": model_flops / 1e12,
        "max_mfu_at_floor": model_flops / (floor_ms / 1000) / (peak * 1e12) if peak else None,
    }
    print(f"{args.size}, {args.batch} x {args.seq} tokens, {name} ({dtype}), torch {torch.__version__}")
    print(f"{'product':<24}{'M':>7}{'K':>7}{'N':>7}{'ms':>9}{'TFLOP/s':>10}")
    for r in rows:
        print(f"{r['product']:<24}{r['m']:>7}{r['k']:>7}{r['n']:>7}{r['ms']:>9.4f}{r['tflops']:>10.1f}")
    print(f"attention fwd+bwd {attention_ms:.4f} ms ({attention_backend}); one {side}^3 product: {ceiling:.0f} TFLOP/s")
    print(f"floor per step (products + attention, {layers} blocks): {floor_ms:.2f} ms")
    if peak:
        print(f"MFU at that floor: {100 * result['max_mfu_at_floor']:.1f} % of {peak:.0f} TFLOP/s")
    if args.json_path:
        with open(args.json_path, "a") as f:  # one line per run: several sizes collect in one file
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
