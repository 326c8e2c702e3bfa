"""optim=auto's proximal Newton against the interior-point method (optim=certified) on L1 problems.

    OMP_NUM_THREADS=1 python scripts/bench_prox_newton.py     # 100k x 50, median of 3

Side by side in one process, alternating: derivtrain.Estimator fits of a lasso (model=linear,
regularizer=l1, strength 1e-2) and an L1-logistic regression (strength 1e-3) on 100,000 x 50
standardized rows with correlated columns (0.8^|i-j|, as scripts/bench_field.py), each at
optim.tol 1e-3 and 1e-6: seconds, steps and the certified gap each reached.
"""
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import derivtrain  # noqa: E402
from bench_field import correlated  # noqa: E402

PROBLEMS = {"lasso": dict(model="linear", regularizer="l1", regularizer__strength=1e-2),
            "l1_logistic": dict(model="logistic", regularizer="l1", regularizer__strength=1e-3)}


def main(repeats: int = 3):
    warnings.simplefilter("ignore")  # the interior point's ConvergenceWarning at its rounding floor
    X, signal, _ = correlated(100_000, 50)
    print("| problem | optim.tol | proximal Newton s (steps, gap) | interior point s (steps, gap) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, params in PROBLEMS.items():
        y = signal if name == "lasso" else (signal > np.median(signal)).astype(int)
        for tol in (1e-3, 1e-6):
            runs = {"auto": [], "certified": []}
            for _ in range(repeats):
                for optim in runs:
                    est = derivtrain.Estimator(standardize=False, optim=optim, optim__tol=tol, **params)
                    start = time.perf_counter()
                    est.fit(X, y)
                    runs[optim].append((time.perf_counter() - start, est.n_iter_, est.metrics_["train/optimality_gap"]))
            cells = {k: (statistics.median(r[0] for r in v), v[0][1], v[0][2]) for k, v in runs.items()}
            (a, sa, ga), (c, sc, gc) = cells["auto"], cells["certified"]
            print(f"| {name} | {tol:g} | {a:.3f} ({sa}, {ga:.1e}) | {c:.3f} ({sc}, {gc:.1e}) | {c / a:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
