"""What a second-order step costs: X^T D X as one symmetric rank-k product vs the product it replaced.

    OMP_NUM_THREADS=1 python scripts/bench_second_order.py            # 100k x 50, median of 5
    python scripts/bench_second_order.py --rows 1000000 --features 100

Side by side in one process: (1) X^T diag(w) X for X = [rows | 1], the old way (X^T (X * w) in
chunks of 8M numbers) and derivtrain/data/rank_k.py's; (2) one-vs-rest Hessian blocks (3
classes), the rows' outer products times the curvatures vs one rank-k product per class; (3)
whole derivtrain.Estimator(model="logistic") fits (standardize=False, and the default), with the
old gram and the old three-copy intake swapped back in, and as they are now: seconds a fit and
per Newton step (the fit over its iterations).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import derivtrain  # noqa: E402
from derivtrain.data import rank_k, sparse  # noqa: E402
from derivtrain.estimator import arrays  # noqa: E402
from derivtrain.train.linear_system import _dense_blocks  # noqa: E402


def old_gram(X, weights):
    """data/sparse.py:gram before this change: X^T (X * w), chunks of 8M numbers."""
    if sparse.is_sparse(X):
        return sparse.scale_rows(X, weights)  # not timed here
    rows = max(1, (1 << 23) // X.shape[1])
    out = X.new_zeros(X.shape[1], X.shape[1])
    for a in range(0, X.shape[0], rows):
        part = X[a:a + rows]
        out += part.T @ (part * weights[a:a + rows].reshape(-1, 1))
    return out


def old_features(X, mean_t, scale_t, standardize, device):
    """estimator/arrays.py before this change: a copy, then two more (subtract, divide)."""
    return (torch.tensor(X, dtype=torch.float64, device=device) - mean_t) / scale_t


def median(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def kernels(n, d, repeats):
    X = torch.cat([torch.randn(n, d, dtype=torch.float64), torch.ones(n, 1, dtype=torch.float64)], 1)
    w = torch.rand(n, dtype=torch.float64) / 4
    before, after = median(lambda: old_gram(X, w), repeats), median(lambda: rank_k.weighted_gram(X, w), repeats)
    print(f"| X^T D X, {n} x {d + 1} | {before * 1e3:.1f} ms | {after * 1e3:.1f} ms | {before / after:.2f}x |")
    D = torch.rand(n, 3, dtype=torch.float64)

    def per_class():
        return [rank_k.weighted_gram(X, D[:, k]) for k in range(3)]

    before, after = median(lambda: _dense_blocks(X, D, 3, d + 1), repeats), median(per_class, repeats)
    print(f"| one-vs-rest blocks, 3 classes | {before * 1e3:.1f} ms | {after * 1e3:.1f} ms | {before / after:.2f}x |")


def fits(n, d, repeats):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    X[:, 1:] += 0.5 * X[:, :-1]
    y = (X @ rng.standard_normal(d) + rng.standard_normal(n) > 0).astype(int)
    new_gram, new_features = sparse.gram, arrays._features
    for standardize in (False, True):
        est = derivtrain.Estimator(model="logistic", standardize=standardize)
        seconds = {}
        for label, gram, features in (("before", old_gram, old_features), ("after", new_gram, new_features)):
            sparse.gram, arrays._features = gram, features
            seconds[label] = median(lambda: est.fit(X, y), repeats)
        sparse.gram, arrays._features = new_gram, new_features
        steps = est.n_iter_
        print(f"| Estimator fit, standardize={standardize} ({steps} Newton steps) | {seconds['before']:.3f} s "
              f"({seconds['before'] / steps * 1e3:.0f} ms a step) | {seconds['after']:.3f} s "
              f"({seconds['after'] / steps * 1e3:.0f} ms a step) | {seconds['before'] / seconds['after']:.2f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import scipy.linalg  # noqa: F401  (loaded in every Estimator fit, by scikit-learn; not timed)

    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeats}")
    print("| what | before | after | ratio |")
    print("|---|---:|---:|---:|")
    kernels(args.rows, args.features, args.repeats)
    fits(args.rows, args.features, args.repeats)


if __name__ == "__main__":
    main()
