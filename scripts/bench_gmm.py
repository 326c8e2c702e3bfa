"""Time per EM iteration: derivtrain's GaussianMixture against scikit-learn's, side by side.

    python scripts/bench_gmm.py                  # 100k x 10, k=5, full covariances
    python scripts/bench_gmm.py --rows 20000 --repeats 3

One iteration is one E-step and one M-step. Both fit the same table (unlabelled blobs, drawn
by derivtrain.data.blobs) in the same process, on the same cores.

  scikit-learn  GaussianMixture.fit with tol=0 (it never stops early), timed at max_iter=1+N and
                at max_iter=1; the difference over N leaves out its initialization and the final
                E-step, so it is the cost of N iterations. It computes in float64.
  derivtrain    derivtrain.trainer.em.run_em, the loop optim=em runs, with tol=0 for N iterations,
                including its one host read of the log-likelihood per iteration; float32 (the
                dtype derivtrain trains in) and float64 (scikit-learn's).

Each timing is the median of --repeats rounds, each round timing every contender once; the ratio
is derivtrain / scikit-learn, the median of the rounds' ratios.
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
from derivtrain.trainer.em import run_em


def seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sklearn_fit(X: np.ndarray, k: int):
    """fit(max_iter): scikit-learn's full fit, never stopping early (tol=0)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    def fit(max_iter):
        model = SkGaussianMixture(k, covariance_type="full", tol=0.0, max_iter=max_iter,
                                  init_params="random_from_data", random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X)

    return fit


def derivtrain_em(X: np.ndarray, k: int, dtype):
    """run(iterations): derivtrain's EM loop from a fixed k-means++ start."""
    Z = torch.as_tensor(X, dtype=dtype)
    spec = DataSpec(task="density", n_features=X.shape[1])
    model = GaussianMixture(spec, n_components=k, covariance_type="full").to(dtype)
    model.initialize(Z, torch.Generator().manual_seed(0), init="k-means++")
    run_em(model, Z, 2, tol=0.0)  # warm-up: first-call allocations are not an iteration's cost
    return lambda iterations: run_em(model, Z, iterations, tol=0.0)


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
    print(f"EM iteration, {args.rows} x {args.features}, k={k}, full covariances; median of {r} rounds of {n} "
          f"iterations; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads")
    sk = sklearn_fit(X, k)
    ours = {name: derivtrain_em(X, k, dtype) for name, dtype in (("float32", torch.float32), ("float64", torch.float64))}
    # rounds interleave the contenders, so that a busy moment on a shared machine hits all of them
    times = {"sklearn": [], **{name: [] for name in ours}}
    for _ in range(r):
        times["sklearn"].append((seconds(lambda: sk(1 + n)) - seconds(lambda: sk(1))) / n)
        for name, em in ours.items():
            em(1)  # untimed: wakes torch's worker threads, idle while scikit-learn ran (a real fit runs warm)
            times[name].append(seconds(lambda: em(n)) / n)
    sk_ms = statistics.median(times["sklearn"]) * 1e3
    print(f"  scikit-learn (float64)   {sk_ms:8.1f} ms")
    for name in ours:
        ratios = [a / b for a, b in zip(times[name], times["sklearn"])]
        print(f"  derivtrain   ({name})   {statistics.median(times[name]) * 1e3:8.1f} ms   "
              f"ratio {statistics.median(ratios):.3f}x (median of the rounds' ratios)")

if __name__ == "__main__":
    main()
