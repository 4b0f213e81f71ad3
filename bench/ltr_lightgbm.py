"""LightGBM's LGBMRanker on one split written by `sodeep experiment ltr --python PATH`.

Usage: python ltr_lightgbm.py DIR SEED THREADS   (sodeep passes this file on stdin: `python -`)

DIR holds train.csv and test.csv (rows: label, query index, features...; the rows of a query
are consecutive) and train.query (the training part's group sizes, one per line). The model is
the issue's reference setting: lambdarank objective, 300 trees, learning rate 0.05, 31 leaves,
row subsampling 0.8 every iteration, seeded with SEED. Scores for the test rows, in file order,
go to DIR/pred.txt; one JSON line on stdout gives the fit time and LightGBM's version.

Exit status 3: lightgbm or numpy is not importable (sodeep reports the reference as skipped).
"""
import json
import os
import sys
import time


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: ltr_lightgbm.py DIR SEED THREADS")
    folder, seed, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        import numpy as np
        import lightgbm
    except ImportError as e:
        print(f"{e}: install it with `{sys.executable} -m pip install lightgbm`", file=sys.stderr)
        sys.exit(3)

    def load(name):
        a = np.loadtxt(os.path.join(folder, name), delimiter=",", ndmin=2, dtype=np.float64)
        return a[:, 2:], a[:, 0]

    x_train, y_train = load("train.csv")
    x_test, _ = load("test.csv")
    groups = np.loadtxt(os.path.join(folder, "train.query"), dtype=np.int64, ndmin=1)
    model = lightgbm.LGBMRanker(
        objective="lambdarank",
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=31,
        subsample=0.8,
        subsample_freq=1,
        random_state=seed,
        n_jobs=threads,
        verbose=-1,
    )
    start = time.perf_counter()
    model.fit(x_train, y_train.astype(np.int64), group=groups)
    fit_seconds = time.perf_counter() - start
    np.savetxt(os.path.join(folder, "pred.txt"), model.predict(x_test), fmt="%.9g")
    print(json.dumps({"fit_seconds": fit_seconds, "lightgbm": lightgbm.__version__}))


if __name__ == "__main__":
    main()
