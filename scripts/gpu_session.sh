#!/usr/bin/env bash
# One lent-GPU session (device tool): train-step benchmark with MFU, then finding 1 at full scale.
# Wheels for what the GPU image lacks travel in .whl/ (see README, "Benchmarks"). Results go to $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
  .whl/datasets-*.whl .whl/evaluate-*.whl .whl/dill-*.whl .whl/multiprocess-*.whl .whl/fsspec-*.whl || exit 1
python3 -c "import pyarrow, sys; sys.exit(int(pyarrow.__version__.split('.')[0]) < 24)" || \
  python3 -m pip install -q --no-index --no-deps --no-cache-dir --target /tmp/site .whl/pyarrow-*.whl
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 HF_HOME=/tmp/hf
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" | tee -a "$OUT/gpu.txt"
run() { echo "+ $*"; timeout "$@"; }
run 150 python3 -m procpre.cli bench train --device cuda --model-size 12_12_768 --model-size 2_4_16 --task set \
  --batch-size 64 --steps 30 --json > "$OUT/bench_train_cuda.json"
run 200 python3 -m procpre.cli bench train --device cuda --model-size 12_12_768 --task set --batch-size 64 \
  --steps 30 --compile --json > "$OUT/bench_train_cuda_compile.json"
start=$(date +%s)
run "${FINDING1_TIMEOUT:-330}" python3 -m procpre.cli reproduce 1 --scale full --device cuda --out /tmp/r1 > /tmp/r1.log 2>&1
echo "finding 1 wall seconds: $(( $(date +%s) - start ))" | tee -a "$OUT/gpu.txt"
tail -c 4000 /tmp/r1.log > "$OUT/r1_tail.log"
cp /tmp/r1/REPORT.md "$OUT/" 2>/dev/null; cp /tmp/r1/condattendstream_30/curves.png "$OUT/r1_curves.png" 2>/dev/null
cp /tmp/r1/condattendstream_30/report.json "$OUT/r1_report.json" 2>/dev/null
exit 0
