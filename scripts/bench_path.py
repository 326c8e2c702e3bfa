"""A certified regularization path against independent fits and scikit-learn's cross-validated estimators.

    OMP_NUM_THREADS=1 python scripts/bench_path.py  # 100k x 50 (the issue's size) and the bundled data, one thread
    python scripts/bench_path.py --rows 20000       # smaller
    python scripts/bench_path.py --quick            # breast_cancer and diabetes only
    python scripts/bench_path.py --rows-of path,cv  # leave out the lasso

Three comparisons, each timed side by side in this process (one warm-up of each, then the two in
turn, --repeats rounds, the median of each: load that changes affects both alike), same rows:

  path    L2 logistic, 30 strengths from the data-scaled top down 4 decades, each point certified to
          optim.tol=1e-4: derivtrain's warm-started path (derivtrain/path/) vs one certified fit at
          the weakest strength from zero vs 30 independent certified fits from zero
  cv      5-fold CV over the same 30 C values and the same folds: derivtrain.LogisticCV vs
          scikit-learn's LogisticRegressionCV (lbfgs, its default tol 1e-4), and the difference
          between the mean CV accuracy at our chosen C and at theirs (scored by theirs)
  lasso   5-fold CV over LassoCV's own 30-alpha grid (alpha_max down to 1e-3 of it): derivtrain.
          LinearCV(penalty="l1") (our alpha is 2x LassoCV's: mean squared error without the 1/2)
          vs LassoCV(n_alphas=30, cv=5) on the same folds, and the mean CV MSE at each one's choice

Features are standardized before either side sees them (so both solve on the same columns).
"""
import argparse
import platform
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

POINTS, FOLDS = 30, 5


def timed(fn, repeats: int):
    """(median seconds of `repeats`, the last result), after one warm-up call."""
    fn()
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds)), result


def interleaved(fns: list, repeats: int):
    """(median seconds of each fn, the first fn's last result): one warm-up each, then the fns in
    turn, `repeats` rounds: a machine whose load changes affects each alike."""
    for fn in fns:
        fn()
    seconds, result = [[] for _ in fns], None
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            out = fn()
            seconds[i].append(time.perf_counter() - start)
            result = out if i == 0 else result
    return [float(np.median(s)) for s in seconds], result


def standardized(X):
    return (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)


def classification(name: str, rows: int, features: int):
    if name == "synthetic":
        from derivtrain.data.synthetic import make_synthetic

        table = make_synthetic("classification", rows, features, seed=0)
        return standardized(np.asarray(table.X, dtype=np.float64)), np.asarray(table.y)
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return standardized(X), y


def regression(name: str, rows: int, features: int):
    if name == "synthetic":
        from derivtrain.data.synthetic import make_synthetic

        table = make_synthetic("regression", rows, features, seed=0, n_informative=max(1, features // 5))
        return standardized(np.asarray(table.X, dtype=np.float64)), np.asarray(table.y, dtype=np.float64)
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return standardized(X), y


def path_row(X, y, repeats: int) -> dict:
    """derivtrain's path vs one fit at its weakest strength vs every strength fitted from zero."""
    from derivtrain.estimator import Logistic
    from derivtrain.logging import NullLogger
    from derivtrain.path.grid import largest_strength
    from derivtrain.path.solve import solve_path
    from derivtrain.trainer.certified import fit_certified
    from derivtrain.trainer.fitting import Checkpointer, make_context

    estimator = Logistic(C=1.0)
    cfg, _, data = estimator._fit_inputs(X, y, None)  # the estimator's own rows, config and objective
    from derivtrain.estimator.fitting import build_objective

    objective = build_objective(cfg, data)
    ctx = replace(make_context(cfg, objective, data, NullLogger()), checkpoints=Checkpointer(None))
    top = largest_strength(objective, data)
    strengths = list(np.geomspace(top, top * 1e-4, POINTS))

    def cold(alpha):
        objective.penalty.strength = alpha
        return fit_certified(ctx)

    (path_s, one_s), points = interleaved([lambda: solve_path(ctx, strengths), lambda: cold(strengths[-1])],
                                          max(repeats, 3))
    all_s, _ = timed(lambda: [cold(a) for a in strengths], 1)
    return {"path": path_s, "one fit (weakest)": one_s, "30 fits": all_s, "ratio path / one fit": path_s / one_s,
            "largest gap": max(p.gap for p in points), "iterations": sum(p.iterations for p in points)}


def cv_row(X, y, repeats: int) -> dict:
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    from derivtrain.estimator import LogisticCV

    folds = list(StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(X, y))
    Cs = np.logspace(-4, 2, POINTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (ours_s, theirs_s), _ = interleaved([lambda: LogisticCV(Cs=Cs, cv=folds).fit(X, y),
                                             lambda: LogisticRegressionCV(Cs=Cs, cv=folds).fit(X, y)], repeats)
        ours, theirs = LogisticCV(Cs=Cs, cv=folds).fit(X, y), LogisticRegressionCV(Cs=Cs, cv=folds).fit(X, y)
    their_mean = theirs.scores_[theirs.classes_[1]].mean(axis=0)
    at_ours = their_mean[int(np.argmin(np.abs(Cs - ours.C_)))]
    return {"derivtrain LogisticCV": ours_s, "LogisticRegressionCV": theirs_s, "speed-up": theirs_s / ours_s,
            "CV accuracy: best - ours (their scores)": float(their_mean.max() - at_ours)}


def lasso_row(X, y, repeats: int) -> dict:
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import KFold

    from derivtrain.estimator import LinearCV

    folds = list(KFold(FOLDS, shuffle=True, random_state=0).split(X))
    top = np.abs(X.T @ (y - y.mean())).max() / len(y)
    alphas = np.geomspace(top, top * 1e-3, POINTS)  # LassoCV's own grid (eps=1e-3)
    ours = LinearCV(alphas=2 * alphas, penalty="l1", cv=folds, scoring="neg_mean_squared_error")
    (ours_s, theirs_s), _ = interleaved([lambda: ours.fit(X, y), lambda: LassoCV(alphas=alphas, cv=folds).fit(X, y)],
                                        repeats)
    theirs = LassoCV(alphas=alphas, cv=folds).fit(X, y)
    their_mse = theirs.mse_path_.mean(axis=1)  # LassoCV's alphas_ are descending, as ours
    at_ours = their_mse[int(np.argmin(np.abs(theirs.alphas_ - ours.alpha_ / 2)))]
    return {"derivtrain LinearCV(l1)": ours_s, "LassoCV": theirs_s, "speed-up": theirs_s / ours_s,
            "CV MSE: ours / best (their scores)": float(at_ours / their_mse.min())}


_UNITLESS = ("ratio path / one fit", "largest gap", "iterations", "speed-up", "CV accuracy: best - ours (their scores)",
             "CV MSE: ours / best (their scores)")


def show(title: str, row: dict) -> None:
    cells = ", ".join(f"{k} {v:.3g}" + ("" if k in _UNITLESS else " s") for k, v in row.items())
    print(f"{title}: {cells}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the bundled data sets only")
    parser.add_argument("--rows-of", default="path,cv,lasso", help="which comparisons, comma-separated")
    args = parser.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    sets = ["bundled"] if args.quick else ["bundled", "synthetic"]
    for name in sets:
        size = "" if name == "bundled" else f" {args.rows} x {args.features}"
        Xc, yc = classification(name, args.rows, args.features)
        Xr, yr = regression(name, args.rows, args.features)
        label = "breast_cancer" if name == "bundled" else f"synthetic{size}"
        wanted = args.rows_of.split(",")
        if "path" in wanted:
            show(f"path  {label}", path_row(Xc, yc, args.repeats))
        if "cv" in wanted:
            show(f"cv    {label}", cv_row(Xc, yc, args.repeats))
        if "lasso" in wanted:
            show(f"lasso {'diabetes' if name == 'bundled' else label}", lasso_row(Xr, yr, args.repeats))


if __name__ == "__main__":
    main()
