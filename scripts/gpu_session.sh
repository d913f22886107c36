#!/usr/bin/env bash
# One lent-GPU session (device tool); phases fit its 15-minute budget:
#   bash scripts/gpu_session.sh bench              # train-step variants: MFU of 12_12_768, haystack step (~5 min)
#   bash scripts/gpu_session.sh mfu                # 12_12_768 at the paper's batch, eager and CUDA graphs (~2 min)
#   bash scripts/gpu_session.sh autotune           # the same with --compile max-autotune (over 4 min of tuning)
#   bash scripts/gpu_session.sh floor              # the step's matrix products timed alone: the MFU ceiling (~1 min)
#   bash scripts/gpu_session.sh downstream         # step times of findings 2-4's downstream models: what fits (~4 min)
#   FINDINGS="1 2 3" JOBS=2 bash scripts/gpu_session.sh findings [MODE]   # findings at full scale, concurrently
# MODE is the --torch-compile mode of every training stage (default: no). Wheels for what the GPU image
# lacks travel in .whl/ (README, "Benchmarks"). Results go to $OUT; phases can be chained in one call, and
# DEADLINE (epoch seconds) shortens every step's time limit so the chain ends before the call's limit.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
if [ -z "${NO_SETUP:-}" ] && [ ! -d /tmp/site ]; then  # once per machine; NO_SETUP=1 where packages are there
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .whl/datasets-*.whl .whl/evaluate-*.whl .whl/dill-*.whl .whl/multiprocess-*.whl .whl/fsspec-*.whl || exit 1
  python3 -c "import pyarrow, sys; sys.exit(int(pyarrow.__version__.split('.')[0]) < 24)" || \
    python3 -m pip install -q --no-index --no-deps --no-cache-dir --target /tmp/site .whl/pyarrow-*.whl
fi
export PYTHONPATH=/tmp/site:$PWD HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONUNBUFFERED=1 HF_HOME=/tmp/hf
export TORCHINDUCTOR_CACHE_DIR=/tmp/inductor  # shared: an arm whose graphs another stage compiled reuses them
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" \
  | tee -a "$OUT/gpu.txt"
run() {  # $1 time limit (cut to what DEADLINE leaves), then the command
  local limit=$1; shift
  if [ -n "${DEADLINE:-}" ]; then
    local left=$(( DEADLINE - $(date +%s) ))
    [ "$left" -lt 20 ] && { echo "skipped (deadline): $*" | tee -a "$OUT/gpu.txt"; return 124; }
    [ "$left" -lt "$limit" ] && limit=$left
  fi
  echo "+ [$limit s] $*" >> "$OUT/gpu.txt"; echo "+ $*" >&2; timeout "$limit" "$@"
}

bench() {  # $1 timeout, then bench-train arguments; one JSON line per variant in bench.jsonl
  local limit=$1; shift
  run "$limit" python3 -m procpre.cli bench train --device "${DEVICE:-cuda}" --json "$@" > /tmp/b.json 2>> "$OUT/bench.log" \
    && python3 -c "import json; r=json.load(open('/tmp/b.json')); print(json.dumps(r['results'][0]))" \
    | tee -a "$OUT/bench.jsonl"
}

case "${1:-bench}" in
bench)
  big=(--model-size 12_12_768 --task set --steps 30)
  hay=(--model-size 2_4_16 --task condattendstream_30 --batch-size 1000 --mixed-precision no --steps 200)
  bench 60 "${big[@]}" --batch-size 64
  bench 130 "${big[@]}" --batch-size 64 --compile reduce-overhead
  bench 60 "${hay[@]}"
  bench 100 "${hay[@]}" --compile reduce-overhead
  bench 100 "${big[@]}" --batch-size 64 --compile default
  bench 100 "${big[@]}" --batch-size 256 --compile reduce-overhead
  ;;
mfu)  # the paper's batch; the kernel table of each variant is in bench.jsonl
  bench 45 --model-size 12_12_768 --task set --steps 30 --batch-size 64
  bench 100 --model-size 12_12_768 --task set --steps 30 --batch-size 64 --compile reduce-overhead
  ;;
autotune)  # max-autotune tunes every product shape first: it was still tuning after 236 s (2026-11-27)
  bench 540 --model-size 12_12_768 --task set --steps 30 --batch-size 64 --compile max-autotune
  ;;
floor)
  for batch in 64 256; do
    run 60 python3 benchmarks/step_floor.py --batch "$batch" --json "$OUT/floor.jsonl" | tee -a "$OUT/floor.txt"
  done
  ;;
downstream)  # finding 4 is 2 x 156 250 steps of 4_8_512: it fits a session only if a step takes ~2 ms
  for mode in no reduce-overhead; do
    bench 60 --model-size 4_8_512 --task multiplication_5 --batch-size 64 --mixed-precision no --steps 200 \
      --compile "$mode"
    bench 60 --model-size 2_4_16 --task additionstream_10 --batch-size 1000 --mixed-precision no --steps 200 \
      --compile "$mode"
    bench 60 --model-size 2_4_16 --task sorting_10 --batch-size 1000 --mixed-precision no --steps 200 --compile "$mode"
  done
  ;;
quick)  # the script itself, on any machine: NO_SETUP=1 DEVICE=cpu bash scripts/gpu_session.sh quick
  bench 60 --model-size 2_4_16 --task set --steps 2 --batch-size 8
  ;;
findings)
  mode=${2:-no}
  export OMP_NUM_THREADS=4 NUMBA_NUM_THREADS=4  # three processes share 16 cores
  for f in ${FINDINGS:-1 2 3}; do
    ( start=$(date +%s)
      run "${FINDINGS_TIMEOUT:-500}" python3 -m procpre.cli reproduce "$f" --scale "${SCALE:-full}" --device cuda \
        --torch-compile "$mode" --jobs "${JOBS:-1}" --out "/tmp/r$f" > "/tmp/r$f.log" 2>&1
      echo "finding $f rc $? wall seconds $(( $(date +%s) - start )) (mode $mode, findings ${FINDINGS:-1 2 3} at once)" \
        | tee -a "$OUT/gpu.txt" ) &
  done
  wait
  for f in ${FINDINGS:-1 2 3}; do tail -c 3000 "/tmp/r$f.log" > "$OUT/r${f}_tail.log"; done
  (cd /tmp && tar czf "$OUT/findings.tgz" --exclude='*.safetensors' --exclude='training_state' \
    --exclude='*.arrow' r? 2>/dev/null)
  ;;
esac
exit 0
