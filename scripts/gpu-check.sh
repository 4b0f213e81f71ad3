#!/usr/bin/env bash
# The GPU checks, in three parts, because the GPU machine has no Rust toolchain and no network:
#
#   scripts/gpu-check.sh build    here (about 26 min on 2 cores): installs nvcc and the CUDA
#                                 headers from PyPI into .cuda-venv and builds `--features cuda`
#                                 into target/cuda-bin/sodeep
#   scripts/gpu-check.sh pack     here: target/gpu-bundle/ with everything the GPU machine needs:
#                                 the CUDA binary (xz), the Python wheel, torchsort's sdist
#   scripts/gpu-check.sh run      on the GPU machine, with target/gpu-bundle carried there: one
#                                 prepared run of every device check, in under 8 minutes
#   scripts/gpu-check.sh smoke    here, without a GPU: `run`'s stages on the CPU with tiny sizes,
#                                 so that the script itself is tested before device time is spent
#
# `run` never hides stderr: each stage's whole output goes to $OUT/gpu-check/NN-stage.log as
# it runs (and to the terminal), and $OUT/gpu-check/summary.txt gets one line per stage as it
# ends, so a run cut short by its time limit still returns what ran. A failing stage does not
# stop the others; the exit status is the number of failed stages.
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=target/gpu-bundle

build() {
    set -e
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
    # the GPU machine's own libcuda.so.1 is loaded at run time. The stub's symbols are those
    # cudarc's compiled objects reference, so the first build compiles everything and may
    # fail only at the link (its log is kept and shown if the second build fails too).
    for n in cublas cublasLt cudart nvrtc; do ln -sf "$root/lib/lib$n.so.13" "$root/lib/lib$n.so"; done
    ln -sf "$(ls "$root"/lib/libcurand.so.* | head -1)" "$root/lib/libcurand.so"
    mkdir -p target/cuda
    cargo build --release --features cuda --target-dir target/cuda >target/cuda/first-build.log 2>&1 ||
        echo "first build did not link (expected before the stub exists): target/cuda/first-build.log"
    nm target/cuda/release/deps/libcudarc-*.rlib 2>/dev/null | awk '/ U cu[A-Z]/ {print "void " $2 "(void) {}"}' |
        sort -u > target/cuda/cuda_stub.c
    gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/libcuda.so" target/cuda/cuda_stub.c
    cargo build --release --features cuda --target-dir target/cuda
    mkdir -p target/cuda-bin && strip -o target/cuda-bin/sodeep target/cuda/release/sodeep
    echo "built target/cuda-bin/sodeep (compute capability $CUDA_COMPUTE_CAP)"
}

pack() {
    set -e
    [ -x target/cuda-bin/sodeep ] || { echo "no target/cuda-bin/sodeep: run '$0 build' first" >&2; exit 2; }
    rm -rf "$bundle" && mkdir -p "$bundle"
    xz -T0 -6 -c target/cuda-bin/sodeep > "$bundle/sodeep.xz"
    scripts/build-wheel.sh "$bundle/dist" >/dev/null
    rm -f "$bundle"/dist/*.tar.gz   # the wheel is enough; the sdist would only add size
    python3 -m pip download -q --no-deps --no-binary :all: -d "$bundle" torchsort==0.1.10
    du -sh "$bundle"; ls -l "$bundle" "$bundle/dist"
    echo "carry $bundle to the GPU machine and run: scripts/gpu-check.sh run"
}

# ---- run / smoke ------------------------------------------------------------------------------

out="${OUT:-$(mktemp -d)}/gpu-check"
failed=0
stage_no=0

# stage NAME SECONDS COMMAND...: runs COMMAND under a time limit, its output appended to the
# stage's log as it comes, and one line in the summary when it ends.
stage() {
    local name=$1 limit=$2; shift 2
    stage_no=$((stage_no + 1))
    local log; log=$(printf '%s/%02d-%s.log' "$out" "$stage_no" "$name")
    echo "== $name (limit ${limit}s): $*" | tee -a "$log"
    local t0=$SECONDS
    # the script's own functions run in a fresh copy of it (timeout runs programs only)
    if [ "$(type -t "$1")" = function ]; then set -- "$0" fn "$@"; fi
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    local verdict=ok
    [ "$rc" -eq 0 ] || { verdict="FAILED (exit $rc$([ "$rc" -eq 124 ] && echo ', time limit'))"; failed=$((failed + 1)); }
    echo "$name: $verdict in $((SECONDS - t0)) s" | tee -a "$out/summary.txt"
}

# agree A B: two L1 figures (JSON reports of eval-sorter) agree within 1e-4
agree() {
    python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p))["l1"] for p in sys.argv[1:3])
print(f"L1 on device {a:.6f}, on the CPU {b:.6f}")
sys.exit(0 if abs(a - b) < 1e-4 else "the device and the CPU disagree")
PY
}

# arch_check ARCH DEVICE STEPS: trains ARCH for STEPS steps on DEVICE, then evaluates the
# checkpoint on DEVICE and on the CPU (the same test vectors) and compares the L1.
arch_check() {
    local arch=$1 device=$2 steps=$3 dir="$work/arch-$1"
    local len=(--len 100)
    [ "$arch" = pairwise ] && len=(--len-range 2..128)
    rm -rf "$dir"
    "$bin" train-sorter --device "$device" --arch "$arch" "${len[@]}" --batch 64 --steps "$steps" \
        --save-every "$steps" --val-samples 256 --seed 1 --out "$dir" || return 1
    "$bin" eval-sorter --sorter "$dir/ckpt" --device "$device" --samples 1000 --len 100 --json > "$dir/dev.json" || return 1
    "$bin" eval-sorter --sorter "$dir/ckpt" --device cpu --samples 1000 --len 100 --json > "$dir/cpu.json" || return 1
    python3 -c "import json; t=json.load(open('$dir/ckpt/sorter.json'))['training']; print(f'{t[\"step\"]} steps in {t[\"wall_seconds\"]:.2f} s')"
    agree "$dir/dev.json" "$dir/cpu.json"
}

# lstm_step DEVICE STEPS BATCH: seconds per lstm h128 training step (d 100), ours and PyTorch's
lstm_step() {
    local device=$1 steps=$2 batch=$3 dir="$work/lstm-step"
    rm -rf "$dir"
    "$bin" train-sorter --device "$device" --arch lstm --len 100 --standardize --batch "$batch" \
        --steps "$steps" --save-every "$steps" --val-samples 64 --seed 1 --out "$dir" || return 1
    python3 - "$dir/ckpt/sorter.json" "$steps" "$batch" "$device" <<'PY'
import json, statistics, subprocess, sys
card, steps, batch, device = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ours = json.load(open(card))["training"]["wall_seconds"] / steps
p = subprocess.Popen([sys.executable, "bench/torch_sorters.py", "--device", device, "--batch", batch],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
p.stdout.readline()
times = []
for _ in range(12):
    p.stdin.write("lstm-h128-train\n"); p.stdin.flush()
    times.append(float(p.stdout.readline()))
p.stdin.write("quit\n"); p.stdin.flush()
theirs = statistics.median(times[2:])
print(f"lstm h=128 training step, batch {batch}, d 100, {device}: sodeep {ours * 1e3:.1f} ms "
      f"(wall / steps, validation included), PyTorch {theirs * 1e3:.1f} ms, ratio {ours / theirs:.2f}")
PY
}

run() {
    local smoke=$1
    mkdir -p "$out"; : > "$out/summary.txt"
    export work bin
    work=$(mktemp -d)
    local device=cuda steps=20 pysuite=(python3 -m pytest -q -p no:cacheprovider crates/sodeep-py/tests)
    if [ "$smoke" = 1 ]; then
        device=cpu steps=2
        bin=target/release/sodeep
    else
        bin="$work/sodeep"
        xz -dc "$bundle/sodeep.xz" > "$bin" && chmod +x "$bin"
        # cuBLAS, cuRAND and the CUDA runtime from the PyTorch install's nvidia-* wheels
        libs=$(python3 -c 'import glob, os, nvidia; print(":".join(sorted({os.path.dirname(p) for p in glob.glob(os.path.join(nvidia.__path__[0], "**", "lib*.so*"), recursive=True)})))')
        export LD_LIBRARY_PATH="$libs:${LD_LIBRARY_PATH:-}"
    fi
    {
        echo "date: $(date -u +%FT%TZ)"; uname -a; nproc
        nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
        python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"
    } | tee "$out/host.txt"
    if [ "$smoke" = 0 ]; then
        stage install-wheel 60 python3 -m pip install --no-index --no-deps --force-reinstall "$bundle"/dist/sodeep-*.whl
        # torchsort's CUDA kernel, built here from its sdist (no network: build isolation off)
        stage build-torchsort 240 env MAX_JOBS=16 python3 -m pip install --no-index --no-deps \
            --no-build-isolation "$bundle"/torchsort-0.1.10.tar.gz
    fi
    for arch in lstm gru cnn mlp pairwise; do
        stage "train-eval-$arch" 60 arch_check "$arch" "$device" "$steps"
    done
    if [ "$smoke" = 1 ]; then
        stage lstm-step 120 lstm_step cpu 2 32
        stage python-softrank-speed 120 python3 bench/gpu_softrank.py --device cpu --sizes 4x100,4x1000 --reps 3 --out "$out/softrank.json"
        stage thread-sweep 120 "$bin" bench rankers --quick --no-torch --thread-sweep 1,2 --out "$work/threads"
    else
        stage lstm-step 90 lstm_step cuda 30 512
        stage python-suite-cuda 150 "${pysuite[@]}"
        stage python-softrank-speed 120 python3 bench/gpu_softrank.py --device cuda --out "$out/softrank.json"
        stage ddp-nccl 60 python3 crates/sodeep-py/examples/ddp_spearman.py
        stage thread-sweep 150 "$bin" bench rankers --quick --no-torch --thread-sweep 1,2,4,8,16 --out "$work/threads"
        stage python-speed-16-threads 120 env PYTHONPATH="${PYTHONPATH:-}" python3 bench/python_speed.py --threads 16 --reps 5 --json "$out/python-speed-16.json"
    fi
    [ -f "$work/threads/report.md" ] && cp "$work/threads/report.md" "$out/thread-sweep.md"
    echo "$failed stage(s) failed; logs in $out"
    return "$failed"
}

case "${1:-}" in
build) build ;;
pack) pack ;;
run) run 0 ;;
smoke) run 1 ;;
fn) shift; "$@" ;;   # one of this script's functions, for `stage` (work and bin exported)
*)
    echo "usage: $0 build | pack | run | smoke" >&2
    exit 2
    ;;
esac
