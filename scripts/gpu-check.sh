#!/usr/bin/env bash
# The CUDA checks of the speed issue, in two halves, because the GPU machine has no Rust toolchain:
#
#   scripts/gpu-check.sh build        here: installs nvcc and the CUDA headers from PyPI into
#                                     .cuda-venv, builds `--features cuda` into target/cuda-bin/sodeep
#   scripts/gpu-check.sh run [BIN]    on the GPU machine (CUDA and PyTorch present): trains an lstm
#                                     sorter for 300 steps on the GPU, evaluates it on the CPU path
#                                     against the GPU's own validation figure, and times a training
#                                     step against PyTorch CUDA (bench/torch_sorters.py) on that GPU
#
# Untested so far: no GPU has been lent to this project's sessions (see the README).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
build)
    python3 -m venv .cuda-venv
    .cuda-venv/bin/pip install -q nvidia-cuda-nvcc-cu12 nvidia-cuda-runtime-cu12 nvidia-cublas-cu12 nvidia-curand-cu12
    site=$(.cuda-venv/bin/python -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))')/nvidia
    export CUDA_ROOT="$site/cuda_nvcc" PATH="$site/cuda_nvcc/bin:$PATH"
    export NVCC_PREPEND_FLAGS="-I$site/cuda_runtime/include -I$site/cublas/include -I$site/curand/include"
    export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"   # H200; candle needs it without a GPU here
    cargo build --release --features cuda --target-dir target/cuda
    mkdir -p target/cuda-bin && cp target/cuda/release/sodeep target/cuda-bin/sodeep
    echo "built target/cuda-bin/sodeep (compute capability $CUDA_COMPUTE_CAP)"
    ;;
run)
    bin="${2:-target/cuda-bin/sodeep}"
    out="${OUT:-$(mktemp -d)}/gpu-check"
    rm -rf "$out"
    steps=300 batch=256
    "$bin" train-sorter --device cuda --arch lstm --len 100 --standardize --batch "$batch" \
        --steps "$steps" --save-every 100 --seed 1 --out "$out" 2>/dev/null
    card="$out/ckpt/sorter.json"
    read -r gpu_l1 val_seed wall < <(python3 -c "import json,sys; t=json.load(open('$card'))['training']; print(t['val_l1'], t['val_seed'], t['wall_seconds'])")
    cpu_l1=$("$bin" eval-sorter --sorter "$out/ckpt" --samples 1000 --seed "$val_seed" --json |
        python3 -c "import json,sys; print(json.load(sys.stdin)['l1'])")
    echo "validation L1 after $steps GPU steps: GPU $gpu_l1, CPU path on the same weights $cpu_l1"
    python3 -c "import sys; a,b=float('$gpu_l1'),float('$cpu_l1'); sys.exit(0 if abs(a-b) < 1e-4 else 'GPU and CPU disagree')"
    torch_s=$(python3 - "$batch" <<'PY'
import statistics, subprocess, sys
p = subprocess.Popen([sys.executable, "bench/torch_sorters.py", "--device", "cuda", "--batch", sys.argv[1]],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
p.stdout.readline()
times = []
for _ in range(12):
    p.stdin.write("lstm-h128-train\n"); p.stdin.flush()
    times.append(float(p.stdout.readline()))
p.stdin.write("quit\n"); p.stdin.flush()
print(statistics.median(times[2:]))
PY
)
    python3 -c "w=$wall/$steps; t=$torch_s; print(f'lstm h=128 training step, batch $batch, d 100: sodeep CUDA {w:.4f} s (wall/steps, validation included), PyTorch CUDA {t:.4f} s, ratio {w/t:.2f}')"
    ;;
*)
    echo "usage: $0 build | run [BIN]" >&2
    exit 2
    ;;
esac
