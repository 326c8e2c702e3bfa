"""Whole default CLI runs at a million rows, and where their time goes.

    python scripts/bench_cli_scale.py [--rows 1250000] [--features 100] [--epochs 3] [--repeats 3]
                                      [--cases auto sgd adam full]
    python scripts/bench_cli_scale.py --sparse     # issue 24's sparse case (scripts/cli_scale_sparse.py)
    python scripts/bench_cli_scale.py --cases sgd --shuffle batches   # minibatches without the gather
    python scripts/bench_cli_scale.py --cases full --sgd-lr 0.1       # SGD at a rate given, not the default

Each case is `derivtrain.train(...)` (what `python -m derivtrain` runs, in this process so its
parts can be timed) with the defaults a user gets: TensorBoard logging, validation, the progress
bar's bookkeeping, certificate checks. Cases: `optim=auto` (the certified solver: dual coordinate
descent on these rows), `optim=sgd` and `optim=adam` with `trainer.batch_size=4096`, `optim=sgd`
full batch, and `auto-ip`: `optim=auto` with dual coordinate descent switched off (the interior
point it took before stop 35), all `model=svm data=synthetic` (80 % of the rows train). Printed per
case, medians over the repeats:

    total      the run from composition to metrics.json
    read       building the data (generation, split, float64 standardization)
    fit        the fitter, certificates included: `checks` is the part in the loop's periodic
               certificate checks, `final cert` the end-of-run certificate (all certificates of
               the certified solver are its own iterations, in `fit` alone)
    validate   evaluations of the validation split during the fit
    log        TensorBoard writes and flushes
    report     test metrics, the end-of-run certificate, run-folder files
    gap        the run's certified bound on its relative gap (P - P*) / P (train/optimality_gap)
    excess     where the auto case ran: the run's objective over its certified optimum, P / P_auto - 1
               (a gradient run's true distance from the optimum, which its bound may overstate)

and for the minibatch cases the training throughput (training rows x epochs / fit seconds)
against scikit-learn's SGDClassifier(loss="hinge") for the same epochs on the same rows, timed in
between, and an epoch of the full-batch case against the time to read X once (a float32 sum): the
fit's share (its set-up included) and the marginal epoch (the case run again with twice the epochs:
the difference over the extra epochs).
"""
import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = ("auto", "sgd", "adam", "full", "auto-ip")  # --cases: the five below, in this order
PARTS = ("read", "fit", "checks", "final cert", "validate", "log", "report")
DOUBLE = "sgd full, 2x epochs"


@contextmanager
def timed_parts(seconds: dict):
    """Wrap the functions each part is made of; their time accumulates in `seconds`."""
    import derivtrain.convex.certificate as duality
    import derivtrain.logging.tensorboard as tensorboard
    import derivtrain.run as run
    import derivtrain.trainer.epoch_end as epoch_end

    targets = [(run, "build_data", "read"), (run, "fit", "fit"), (run, "report", "report"),
               (epoch_end.EpochEnd, "_certified_optimal", "checks"), (duality, "certify", "certify"),
               (epoch_end, "evaluate", "validate")]
    targets += [(tensorboard.TensorBoardLogger, name, "log") for name in
                ("log_scalars", "log_histograms", "log_text", "log_results", "close")
                if hasattr(tensorboard.TensorBoardLogger, name)]
    saved = []
    for owner, name, part in targets:
        original = getattr(owner, name)
        saved.append((owner, name, original))
        setattr(owner, name, _timer(original, part, seconds))
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def _timer(function, part, seconds):
    def wrapper(*args, **kwargs):
        start, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[part] += time.perf_counter() - start
            seconds[f"{part} cpu"] += time.process_time() - cpu
    return wrapper


def run_case(overrides: list, folder: Path, interior_point: bool = False) -> dict:
    """The run's parts' seconds; interior_point: optim=auto's certified solver with dual coordinate
    descent switched off (the solver it took before; the same objective and certificate)."""
    import derivtrain
    import derivtrain.trainer.fitters as fitters

    seconds = defaultdict(float)
    start, chooser = time.perf_counter(), fitters._dual_coordinates
    if interior_point:
        fitters._dual_coordinates = lambda ctx: False
    try:
        with timed_parts(seconds):
            metrics = derivtrain.train(*overrides, f"hydra.run.dir={folder}").metrics
    finally:
        fitters._dual_coordinates = chooser
    seconds["total"] = time.perf_counter() - start
    seconds["final cert"] = seconds.pop("certify", 0.0) - seconds["checks"]  # certify() runs inside the checks too
    seconds["epochs"] = metrics.get("train/epochs", 0)
    seconds["gap"] = metrics.get("train/optimality_gap", float("nan"))
    seconds["objective"] = metrics.get("train/objective", float("nan"))
    seconds["test accuracy"] = metrics.get("test/accuracy", float("nan"))
    return seconds


def compiled_start() -> float:
    """Seconds to load derivtrain's compiled loops (dual coordinate descent's epoch, the full-batch SVM
    pass) and make their first calls on a few numbers: what the first run of a process pays. Built
    ahead of time (derivtrain/compiled) that is a module's import; where it cannot be, numba's start."""
    import numpy as np

    from derivtrain.compiled import kernel
    from derivtrain.compiled.exports import PAIR

    start = time.perf_counter()
    one = np.ones((2, 2), dtype=np.float32)
    kernel("hinge_rows_f4")(one, one, one, one[0].copy(), 0, 2)
    rows, ones = np.ones(4), np.ones(2)
    kernel("hinge_epoch")(np.zeros(1, np.int64), np.zeros(0, PAIR), rows, 2, ones, ones, ones, ones, None,
                          np.zeros(2), np.zeros(3), 1.0, 0.0, np.arange(2), 2, np.inf, -np.inf, False)
    return time.perf_counter() - start


def sklearn_seconds(rows: int, features: int, epochs: int) -> float:
    """SGDClassifier(hinge) for `epochs` epochs on the same training rows (as built by data=synthetic)."""
    import numpy as np
    from sklearn.linear_model import SGDClassifier

    from derivtrain.data import build_data
    from tests.conftest import compose_config

    cfg = compose_config("model=svm", "data=synthetic", f"data.n_samples={rows}", f"data.n_features={features}")
    data = build_data(cfg.data, torch.device("cpu"), seed=0)
    # the rows in an array of numpy's own, as a user hands them over (2 MB pages where Linux gives them to
    # numpy; derivtrain's split lies in torch's 4 KB ones: derivtrain/data/huge_pages.py says why)
    X, y = np.array(data.train.X.numpy()), data.train.y.numpy()
    clf = SGDClassifier(loss="hinge", alpha=1e-4, max_iter=epochs, tol=None, random_state=0)
    start, cpu = time.perf_counter(), time.process_time()
    clf.fit(X, y)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    read_start = time.perf_counter()
    data.train.X.sum()
    return seconds, time.perf_counter() - read_start, len(X), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_250_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES),
                        help="which cases to run (default: all)")
    parser.add_argument("--shuffle", choices=("rows", "batches"), default="rows",
                        help="trainer.shuffle for the minibatch cases (rows: the default)")
    parser.add_argument("--sgd-lr", default="null",
                        help="optim.lr for the optim=sgd cases (null: the default, scaled to the rows)")
    parser.add_argument("--sparse", action="store_true",
                        help="instead, the sparse case (scripts/cli_scale_sparse.py)")
    parser.add_argument("--sparse-rows", type=int, default=200_000)
    parser.add_argument("--sparse-features", type=int, default=100_000)
    args = parser.parse_args()
    if args.sparse:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from cli_scale_sparse import main as sparse_main

        return sparse_main(args.sparse_rows, args.sparse_features, args.repeats, run_case)
    common = ["model=svm", "data=synthetic", f"data.n_samples={args.rows}", f"data.n_features={args.features}"]
    minibatch = [f"trainer.max_epochs={args.epochs}", "trainer.batch_size=4096", f"trainer.shuffle={args.shuffle}"]
    sgd = ["optim=sgd", f"optim.lr={args.sgd_lr}"]
    cases = {"optim=auto (certified)": common,
             "optim=sgd bs 4096": [*common, *sgd, *minibatch],
             "optim=adam bs 4096": [*common, "optim=adam", *minibatch],
             "optim=sgd full batch": [*common, *sgd, f"trainer.max_epochs={10 * args.epochs}"],
             "optim=auto, int. point": common}
    cases = {name: overrides for (name, overrides), key in zip(cases.items(), CASES) if key in args.cases}
    if "full" in args.cases:  # twice the epochs: the difference is the marginal cost of an epoch
        cases[DOUBLE] = [*common, *sgd, f"trainer.max_epochs={20 * args.epochs}"]
    results = defaultdict(list)
    print(f"the compiled loops' start in this process (loading them, their first calls): {compiled_start():.2f} s; "
          "paid once by a run's first compiled loop, taken out of every case below")
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):  # interleaved: a machine that drifts drifts for every case
            for number, (name, overrides) in enumerate(cases.items()):
                results[name].append(run_case(overrides, Path(tmp) / f"{repeat}-{number}", "int. point" in name))
            results["sklearn"].append(dict(zip(("fit", "read", "rows", "fit cpu"),
                                               sklearn_seconds(args.rows, args.features, args.epochs))))
    med = {name: {k: statistics.median(r.get(k, 0.0) for r in runs) for k in runs[0]} for name, runs in results.items()}
    sk = med.pop("sklearn")
    print(f"{args.rows} rows ({sk['rows']} train) x {args.features} features, model=svm; medians of "
          f"{args.repeats}; seconds")
    optimum = med.get("optim=auto (certified)", {}).get("objective")  # certified to optim.tol, 1e-4
    print(f"{'case':<24}{'total':>8}" + "".join(f"{p:>12}" for p in PARTS) + f"{'epochs':>8}{'gap':>10}"
          + (f"{'excess':>10}" if optimum else ""))
    for name, m in med.items():
        print(f"{name:<24}{m['total']:8.2f}" + "".join(f"{m.get(p, 0.0):12.3f}" for p in PARTS)
              + f"{m['epochs']:8.0f}{m['gap']:10.2e}" + (f"{m['objective'] / optimum - 1:10.2e}" if optimum else ""))
    if optimum:
        print("gap: the run's certified bound on (P - P*) / P; excess: its objective over optim=auto's certified "
              "optimum, P / P_auto - 1 (within optim.tol of the true excess): where a gradient run really ended")
    sk_rate = sk["rows"] * args.epochs / sk["fit"]
    print(f"\nscikit-learn SGDClassifier(hinge), {args.epochs} epochs: {sk_rate / 1e6:.2f} M samples/s")
    for name in ("optim=sgd bs 4096", "optim=adam bs 4096"):
        if name not in med:
            continue
        m = med[name]
        rate = sk["rows"] * m["epochs"] / m["fit"]
        by_cpu = (sk["fit cpu"] / args.epochs) / (m["fit cpu"] / m["epochs"])
        print(f"{name}: {rate / 1e6:.2f} M samples/s = {rate / sk_rate:.2f}x scikit-learn ({by_cpu:.2f}x by the "
              f"process's CPU time); certificate checks {m['checks'] / m['fit']:.1%} of the fit, the final "
              f"certificate {m['final cert'] / m['fit']:.1%}")
    if "optim=sgd full batch" not in med:
        return
    full, double = med["optim=sgd full batch"], med[DOUBLE]
    epoch = _training(full) / max(full["epochs"], 1)
    marginal = (_training(double) - _training(full)) / max(double["epochs"] - full["epochs"], 1)
    print(f"optim=sgd full batch: an epoch {epoch * 1e3:.0f} ms = {epoch / sk['read']:.1f}x reading X once "
          f"({sk['read'] * 1e3:.0f} ms), the fit's set-up included; the marginal epoch ({double['epochs']:.0f} "
          f"epochs against {full['epochs']:.0f}) {marginal * 1e3:.0f} ms = {marginal / sk['read']:.1f}x; "
          f"certificate checks {full['checks'] / full['fit']:.1%} of the fit")


def _training(case: dict) -> float:
    """The fit's seconds less its certificates and validation."""
    return case["fit"] - case["checks"] - case["final cert"] - case.get("validate", 0.0)


if __name__ == "__main__":
    main()
