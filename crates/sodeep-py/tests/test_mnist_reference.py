"""The PyTorch reference of the published MNIST sorting protocol, ``bench/mnist_published.py``,
runs on a few steps of made-up IDX files and prints the JSON the Rust side reads; bad input is a
one-line error with exit status 2."""
import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "..", "bench", "mnist_published.py")


def write_idx(folder, name, labels, rng):
    n = len(labels)
    with open(os.path.join(folder, name.format(kind="images", dims=3)), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28))
        f.write(rng.integers(0, 256, size=n * 784, dtype=np.uint8).tobytes())
    with open(os.path.join(folder, name.format(kind="labels", dims=1)), "wb") as f:
        f.write(struct.pack(">II", 0x801, n))
        f.write(np.asarray(labels, dtype=np.uint8).tobytes())


def made_up_mnist(folder):
    rng = np.random.default_rng(0)
    # 5,000 validation images come first; 200 more for training, every digit in each part
    write_idx(folder, "train-{kind}-idx{dims}-ubyte", [i % 10 for i in range(5200)], rng)
    write_idx(folder, "t10k-{kind}-idx{dims}-ubyte", [i % 10 for i in range(100)], rng)


def run(*args):
    return subprocess.run(
        [sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=600
    )


def test_a_short_run_prints_the_figures_the_rust_side_reads(tmp_path):
    made_up_mnist(tmp_path)
    out = tmp_path / "r.json"
    p = run("--data", str(tmp_path), "--n", "3", "--seed", "1", "--steps", "2",
            "--sets-per-step", "2", "--eval-every", "1", "--val-sets", "4",
            "--test-sets", "4", "--out", str(out))
    assert p.returncode == 0, p.stderr
    r = json.loads(out.read_text())
    assert (r["protocol"], r["ranker"], r["n"], r["steps"]) == ("published", "neuralsort", 3, 2)
    assert [c["step"] for c in r["curve"]] == [1, 2]
    assert r["curve"][1]["sets_seen"] == 4
    assert r["best_step"] in (1, 2)
    for key in ("exact_match", "elementwise"):
        assert 0.0 <= r[key] <= 1.0
    assert set(r["time_split"]) >= {"data", "cnn_forward", "ranker_and_loss", "backward_and_step"}
    again = run("--data", str(tmp_path), "--n", "3", "--seed", "1", "--steps", "2",
                "--sets-per-step", "2", "--eval-every", "1", "--val-sets", "4",
                "--test-sets", "4")
    assert json.loads(again.stdout)["curve"] == r["curve"], "the same seed gives the same run"


def test_bad_input_is_one_line_and_exit_status_2(tmp_path):
    p = run("--data", str(tmp_path / "nowhere"), "--n", "3", "--seed", "0", "--steps", "1")
    assert p.returncode == 2 and p.stderr.startswith("error:") and "Traceback" not in p.stderr
    made_up_mnist(tmp_path)
    p = run("--data", str(tmp_path), "--n", "1", "--seed", "0", "--steps", "1")
    assert p.returncode == 2 and p.stderr.startswith("error:"), p.stderr
