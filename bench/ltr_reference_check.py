"""The issue's LightGBM and ridge reference figures on the whole mslr-sample training file,
scored with scikit-learn's per-query `ndcg_score` (linear gains) averaged over queries.

Usage: python bench/ltr_reference_check.py [DATA_DIR]   (default: $SODEEP_DATA_DIR or
~/.cache/sodeep/data; run `sodeep experiment ltr` or `scripts/fetch-data.sh DIR mslr-sample`
first). Needs numpy, scikit-learn and lightgbm. This checks the metric convention of
`sodeep experiment ltr` against scikit-learn's; it is a reference, never a test.
"""
import os
import sys

import lightgbm
import numpy as np
from sklearn.datasets import load_svmlight_file
from sklearn.linear_model import Ridge
from sklearn.metrics import ndcg_score
from sklearn.preprocessing import StandardScaler


def per_query_ndcg10(y, scores, qid):
    values = []
    for q in np.unique(qid):
        m = qid == q
        if m.sum() > 1:  # ndcg_score needs two documents
            values.append(ndcg_score([y[m]], [scores[m]], k=10))
    return float(np.mean(values))


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "SODEEP_DATA_DIR", os.path.expanduser("~/.cache/sodeep/data"))
    folder = os.path.join(data, "mslr-sample")
    x_tr, y_tr, q_tr = load_svmlight_file(os.path.join(folder, "train.txt"), query_id=True,
                                          n_features=136)
    x_te, y_te, q_te = load_svmlight_file(os.path.join(folder, "test.txt"), query_id=True,
                                          n_features=136)
    x_tr, x_te = x_tr.toarray(), x_te.toarray()
    _, first = np.unique(q_tr, return_index=True)
    order = np.argsort(first)
    groups = np.array([np.sum(q_tr == q) for q in np.unique(q_tr)[order]])
    figures = []
    for seed in range(5):
        model = lightgbm.LGBMRanker(objective="lambdarank", n_estimators=300, learning_rate=0.05,
                                    num_leaves=31, subsample=0.8, subsample_freq=1,
                                    random_state=seed, verbose=-1)
        model.fit(x_tr, y_tr.astype(int), group=groups)
        figures.append(per_query_ndcg10(y_te, model.predict(x_te), q_te))
    print(f"lightgbm NDCG@10 (linear gains): {np.mean(figures):.4f} ± {np.std(figures, ddof=1):.4f} "
          f"over 5 seeds {['%.4f' % f for f in figures]}")
    scaler = StandardScaler().fit(x_tr)
    ridge = Ridge(alpha=1.0).fit(scaler.transform(x_tr), y_tr)
    print(f"ridge NDCG@10 (linear gains): "
          f"{per_query_ndcg10(y_te, ridge.predict(scaler.transform(x_te)), q_te):.4f}")
    rng = np.random.default_rng(0)
    draws = [rng.random(len(y_te)) for _ in range(50)]
    for name, gains in [("linear", y_te), ("exponential", 2.0 ** y_te - 1.0)]:
        # ndcg_score's gain is its y_true, so 2^rel − 1 as y_true gives exponential gains
        rand = [per_query_ndcg10(gains, d, q_te) for d in draws]
        print(f"random NDCG@10 ({name} gains): {np.mean(rand):.4f} ± {np.std(rand):.4f} "
              f"over 50 draws")


if __name__ == "__main__":
    main()
