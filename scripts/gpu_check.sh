#!/usr/bin/env bash
# The CUDA checks, as one script for a lent GPU machine (issue 20): the `gpu` tests, the forward
# pass per encoder, the default and the ensemble end to end in float16, the batch pipeline.
# Writes JSON under ${OUT:-benchmarks/results}/; every step runs even when one before it fails.
#   OUT=/tmp/gpu bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-benchmarks/results}"
mkdir -p "$out"
py="${PYTHON:-.venv/bin/python}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/gpu.txt"
status=0
run() { echo "== $*"; "$@" || { echo "FAILED ($?): $*"; status=1; }; }
run "$py" -m pytest -m gpu -q -p no:warnings
run "$py" benchmarks/forward.py --device cuda --out "$out/forward-cuda.json"
run "$py" benchmarks/speed.py --device cuda -n 32 --cutout --out "$out/speed-cuda.json"
run "$py" benchmarks/speed.py --device cuda --ensemble -n 32 --out "$out/speed-cuda-ensemble.json"
run "$py" benchmarks/quality.py --device cuda --ensemble -q --out "$out/quality-cuda-ensemble.json"
exit $status
