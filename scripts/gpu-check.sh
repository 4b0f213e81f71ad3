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
# `build` was run on the 2-core dev machine (CUDA 13.0 wheels, compute capability 9.0): it links.
# `run` is untested: no GPU has been lent to this project's sessions (see the README).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
build)
    # CUDA 13.0 from PyPI: the oldest CUDA 13, so that its PTX loads on any CUDA 13 driver
    [ -x .cuda-venv/bin/pip ] || python3 -m venv .cuda-venv
    .cuda-venv/bin/pip install -q "nvidia-cuda-nvcc==13.0.*" "nvidia-cuda-runtime==13.0.*" \
        "nvidia-cublas==13.0.*" "nvidia-curand" "nvidia-cuda-crt==13.0.*" "nvidia-cuda-cccl==13.0.*" \
        "nvidia-nvvm==13.0.*" "nvidia-cuda-nvrtc==13.0.*"
    root=$(.cuda-venv/bin/python -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13"))')
    export CUDA_ROOT="$root" CUDA_PATH="$root" CUDA_TOOLKIT_ROOT_DIR="$root" PATH="$root/bin:$PATH"
    export LIBRARY_PATH="$root/lib:${LIBRARY_PATH:-}" LD_LIBRARY_PATH="$root/lib:${LD_LIBRARY_PATH:-}"
    export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"   # H200; candle needs it without a GPU here
    # The wheels ship versioned libraries only, and no libcuda (that comes with the driver):
    # link against unversioned names and a stub libcuda whose soname is the driver's, so that
    # the GPU machine's own libcuda.so.1 is loaded at run time.
    for n in cublas cublasLt cudart nvrtc; do ln -sf "$root/lib/lib$n.so.13" "$root/lib/lib$n.so"; done
    ln -sf "$(ls "$root"/lib/libcurand.so.* | head -1)" "$root/lib/libcurand.so"
    cargo build --release --features cuda --target-dir target/cuda 2>/dev/null || true   # compiles; may fail to link
    nm target/cuda/release/deps/libcudarc-*.rlib 2>/dev/null | awk '/ U cu[A-Z]/ {print "void " $2 "(void) {}"}' |
        sort -u > target/cuda/cuda_stub.c
    gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/libcuda.so" target/cuda/cuda_stub.c
    cargo build --release --features cuda --target-dir target/cuda
    mkdir -p target/cuda-bin && strip -o target/cuda-bin/sodeep target/cuda/release/sodeep
    echo "built target/cuda-bin/sodeep (compute capability $CUDA_COMPUTE_CAP)"
    ;;
run)
    bin="${2:-target/cuda-bin/sodeep}"
    # cuBLAS, cuRAND and the CUDA runtime from the PyTorch install's nvidia-* wheels
    libs=$(python3 -c 'import glob, os, nvidia; print(":".join(sorted({os.path.dirname(p) for p in glob.glob(os.path.join(nvidia.__path__[0], "**", "lib*.so*"), recursive=True)})))')
    export LD_LIBRARY_PATH="$libs:${LD_LIBRARY_PATH:-}"
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
