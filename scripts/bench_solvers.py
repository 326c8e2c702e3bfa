"""Time to a certified optimality gap: derivtrain's optim=auto against scikit-learn, same rows.

    python scripts/bench_solvers.py            # breast_cancer, digits, 100k x 50, 1M x 100
    python scripts/bench_solvers.py --quick    # the two bundled data sets only

For each model and data set, the rows are derivtrain's own training split, standardized; the
objective is derivtrain's (mean loss + alpha/2 ||W||^2, bias unpenalized) and P* is its optimum
(derivtrain's solver run to a certified gap of 1e-10). derivtrain is timed with optim.tol set to
each target (median of --repeats fits, in this process, after a warm-up fit). scikit-learn is fit
with a sequence of decreasing `tol` values; each fit's (w, b) is scored on derivtrain's objective,
(P(w, b) - P*) / P(w, b), and its time to a target is that of the fastest fit that reached it
("-" when none did). scikit-learn's models, with C = 1 / (alpha n):
    svm       LinearSVC(loss="hinge", dual=True, intercept_scaling=10) (it penalizes the bias as a
              feature; scaling it by 10 makes that penalty 100x weaker)
    logistic  LogisticRegression(solver="lbfgs") (same objective)
    linear    Ridge(alpha = n alpha / 2, solver="cholesky") (same objective, a direct solve)
"""
import argparse
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from derivtrain.data import build_data  # noqa: E402
from derivtrain.logging import NullLogger  # noqa: E402
from derivtrain.run import build_objective, seed_everything  # noqa: E402
from derivtrain.trainer.fitters import fit_objective  # noqa: E402
from derivtrain.trainer.fitting import make_context  # noqa: E402
from tests.conftest import compose_config  # noqa: E402

TARGETS = (1e-3, 1e-6)
SKLEARN_TOLS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8)
DATA = {
    "breast_cancer": ["data=breast_cancer"],
    "digits": ["data=digits"],
    "100k x 50": ["data=synthetic", "data.n_samples=100000", "data.n_features=50"],
    "1M x 100": ["data=synthetic", "data.n_samples=1000000", "data.n_features=100"],
}


def solve(overrides, tol):
    """(seconds, objective, model) of one derivtrain fit on the composed problem."""
    cfg = compose_config("logger=none", f"optim.tol={tol}", "trainer.max_epochs=500", *overrides)
    seed_everything(0)
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    objective = build_objective(cfg, data)
    start = time.perf_counter()
    result = fit_objective(make_context(cfg, objective, data, NullLogger()))
    return time.perf_counter() - start, result, objective, data


def our_objective(objective, data, W, b) -> float:
    """derivtrain's objective at (W, b), in float64, on the training rows."""
    from derivtrain.convex.certificate import primal_value

    linear = objective.model.linear
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(W).reshape(linear.weight.shape))
        linear.bias.copy_(torch.as_tensor(b).reshape(linear.bias.shape))
    targets = objective.loss.encode_targets(data.train.y, data.spec.n_outputs)
    return primal_value(objective, data.train.X, targets)


def sklearn_fits(model, objective, data, optimum):
    """[(seconds, relative gap)] for scikit-learn fits at decreasing tol."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.svm import LinearSVC

    X, y = data.train.X.double().numpy(), data.train.y.numpy()
    alpha, n = objective.penalty.strength, len(X)
    fits = []
    for tol in SKLEARN_TOLS if model != "linear" else (1e-3,):
        estimator = {"svm": lambda: LinearSVC(loss="hinge", C=1 / (alpha * n), tol=tol, intercept_scaling=10,
                                              max_iter=100_000),
                     "logistic": lambda: LogisticRegression(C=1 / (alpha * n), tol=tol, max_iter=100_000),
                     "linear": lambda: Ridge(alpha=n * alpha / 2, solver="cholesky")}[model]()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(X, y)
        seconds = time.perf_counter() - start
        value = our_objective(objective, data, estimator.coef_, estimator.intercept_)
        fits.append((seconds, (value - optimum) / abs(value)))
        if seconds > 120:
            break
    return fits


def bench(model, data_name, repeats):
    overrides = [f"model={model}", *DATA[data_name]]
    if model == "linear":  # a regression: the synthetic tables only
        if data_name in ("breast_cancer", "digits"):
            return []
        overrides.append("data.task=regression")
    _, reference, objective, data = solve(overrides, 1e-10)
    optimum = reference.metrics["train/objective"]
    fits = sklearn_fits(model, objective, data, optimum)
    rows = []
    for target in TARGETS:
        times = [solve(overrides, target)[0] for _ in range(repeats)]
        reached = [s for s, gap in fits if gap <= target]
        ours, theirs = statistics.median(times), min(reached) if reached else None
        rows.append((model, data_name, target, ours, theirs))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the bundled data sets only")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    names = ["breast_cancer", "digits"] if args.quick else list(DATA)
    solve(["model=svm"], 1e-3)  # warm-up: first-call costs stay out of the table
    print(f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; median of {args.repeats}")
    print("| model | data | target gap | derivtrain s | scikit-learn s | ratio |")
    print("|---|---|---:|---:|---:|---:|")
    for name in names:
        for model in ("svm", "logistic", "linear"):
            for model_, data_name, target, ours, theirs in bench(model, name, args.repeats):
                ratio = f"{ours / theirs:.2f}x" if theirs else "-"
                shown = f"{theirs:.3f}" if theirs else "not reached"
                print(f"| {model_} | {data_name} | {target:g} | {ours:.3f} | {shown} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
