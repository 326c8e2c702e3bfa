"""Time per EM iteration: derivtrain's GaussianMixture against scikit-learn's, side by side.

    python scripts/bench_gmm.py                  # 100k x 10, k=5, full covariances
    python scripts/bench_gmm.py --rows 20000 --repeats 3

One iteration is one E-step and one M-step. Both fit the same table (unlabelled blobs, drawn
by derivtrain.data.blobs) in the same process, on the same cores.

  scikit-learn  GaussianMixture.fit with tol=0 (it never stops early), timed at max_iter=1+N and
                at max_iter=1; the difference over N leaves out its initialization and the final
                E-step, so it is the cost of N iterations. It computes in float64.
  derivtrain    derivtrain.train.em.run_em, the loop optim=em runs, with tol=0 for N iterations,
                including its one host read of the log-likelihood per iteration; float32 (the
                dtype derivtrain trains in) and float64 (scikit-learn's).

Each timing is the median of --repeats runs; the ratio is derivtrain / scikit-learn.
"""
import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np
import torch

from derivtrain.data.blobs import make_blobs
from derivtrain.data.table import DataSpec
from derivtrain.models.gmm import GaussianMixture
from derivtrain.train.em import run_em


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sklearn_per_iteration(X: np.ndarray, k: int, iterations: int, repeats: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    def fit(max_iter):
        model = SkGaussianMixture(k, covariance_type="full", tol=0.0, max_iter=max_iter,
                                  init_params="random_from_data", random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X)

    long = median_seconds(lambda: fit(1 + iterations), repeats)
    short = median_seconds(lambda: fit(1), repeats)
    return (long - short) / iterations


def derivtrain_per_iteration(X: np.ndarray, k: int, iterations: int, repeats: int, dtype) -> float:
    Z = torch.as_tensor(X, dtype=dtype)
    spec = DataSpec(task="density", n_features=X.shape[1])
    model = GaussianMixture(spec, n_components=k, covariance_type="full").to(dtype)
    model.initialize(Z, torch.Generator().manual_seed(0), init="k-means++")
    run_em(model, Z, 2, tol=0.0)  # warm-up: first-call allocations are not an iteration's cost
    return median_seconds(lambda: run_em(model, Z, iterations, tol=0.0), repeats) / iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=10, help="EM iterations per timed run")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    X = make_blobs(n_samples=args.rows, n_features=args.features, centers=args.components, seed=0).X
    k, n, r = args.components, args.iterations, args.repeats
    print(f"EM iteration, {args.rows} x {args.features}, k={k}, full covariances; median of {r} runs of {n} "
          f"iterations; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads")
    sk = sklearn_per_iteration(X, k, n, r)
    print(f"  scikit-learn (float64)   {sk * 1e3:8.1f} ms")
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        ours = derivtrain_per_iteration(X, k, n, r, dtype)
        print(f"  derivtrain   ({name})   {ours * 1e3:8.1f} ms   ratio {ours / sk:.3f}x")


if __name__ == "__main__":
    main()
