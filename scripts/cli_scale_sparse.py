"""The default CLI on sparse rows: issue 24's sparse case, side by side with scikit-learn.

    python scripts/bench_cli_scale.py --sparse [--sparse-rows 200000] [--sparse-features 100000] [--repeats 3]

A 200,000 x 100,000 CSR matrix, ~50 nonzeros a row (scripts/scale_sparse.py:make_sparse: text-like,
unit rows, a planted rule), saved as `.npz` and run as a user would run it:

    python -m derivtrain model=svm data=npz data.path=X.npz data.target=y.npy optim=sgd \
        trainer.batch_size=4096 trainer.max_epochs=5

with every default on (TensorBoard, validation, the progress bookkeeping, the certificate checks and
the end-of-run certificate), timed by its parts (bench_cli_scale.py:run_case). Against it, on the very
rows that run trains on (derivtrain's split and its standardization, read back from the same
build_data): scikit-learn's SGDClassifier(hinge) for the same 5 epochs at the same alpha, and
LinearSVC (LIBLINEAR) solved to tol 1e-4 at C = 1 / (alpha n_train), the optimum's accuracy.
Printed: training samples/s of each against SGDClassifier's, the certificate's share of the fit,
and test accuracies. Targets (issue 24): >= 1.5x SGDClassifier, accuracy within 0.005 of LinearSVC.

Then the same rows with the defaults alone (`optim=auto`, no batch size or epochs: the certified
solver, dual coordinate descent here) against LinearSVC's fit to tol 1e-4 (both timed, one run
each after the repeats): the optimum's own accuracy, and the certified gap; the same for
`loss=squared_hinge` against LinearSVC(loss="squared_hinge").
"""
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch

EPOCHS = 5


def write_rows(folder: Path, rows: int, features: int) -> list:
    """The matrix and its labels as files; the CLI overrides that read them."""
    import scipy.sparse as sp

    from scale_sparse import make_sparse

    X, y = make_sparse(rows, features, 50)
    sp.save_npz(folder / "X.npz", X)
    np.save(folder / "y.npy", y)
    return ["model=svm", "data=npz", f"data.path={folder / 'X.npz'}", f"data.target={folder / 'y.npy'}",
            "optim=sgd", "trainer.batch_size=4096", f"trainer.max_epochs={EPOCHS}"]


def the_runs_rows(overrides: list):
    """(X_train, y_train, X_test, y_test, alpha) as scipy / numpy: the rows the run trains and tests on."""
    from derivtrain.data import build_data
    from derivtrain.data.sparse import to_scipy
    from tests.conftest import compose_config

    cfg = compose_config(*overrides)
    data = build_data(cfg.data, torch.device("cpu"), seed=cfg.trainer.seed)
    return (to_scipy(data.train.X), data.train.y.numpy(), to_scipy(data.test.X), data.test.y.numpy(),
            float(cfg.regularizer.strength))


def sgdclassifier(rows) -> tuple:
    """(seconds for EPOCHS epochs, test accuracy)."""
    from sklearn.linear_model import SGDClassifier

    Xtr, ytr, Xte, yte, alpha = rows
    clf = SGDClassifier(loss="hinge", alpha=alpha, max_iter=EPOCHS, tol=None, random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "max_iter reached": asked for
        clf.fit(Xtr, ytr)
    return time.perf_counter() - start, clf.score(Xte, yte)


def linearsvc(rows, loss: str = "hinge") -> tuple:
    """LIBLINEAR's optimum of `loss` (dual coordinate descent to tol 1e-4): (seconds, test accuracy)."""
    from sklearn.svm import LinearSVC

    Xtr, ytr, Xte, yte, alpha = rows
    clf = LinearSVC(C=1 / (alpha * len(ytr)), loss=loss, dual=True, tol=1e-4, max_iter=1000)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Xtr, ytr)
    return time.perf_counter() - start, clf.score(Xte, yte)


def defaults_alone(overrides: list) -> list:
    """The run's overrides less the minibatch SGD ones: what `python -m derivtrain model=svm data=npz ...` gets."""
    return [o for o in overrides if not o.startswith(("optim=", "trainer.batch_size=", "trainer.max_epochs="))]


def main(rows: int, features: int, repeats: int, run_case) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        overrides = write_rows(Path(tmp), rows, features)
        data_rows = the_runs_rows(overrides)
        ours, theirs, ratios = [], [], []
        for repeat in range(repeats):  # interleaved, and the ratio taken per repeat: the machine drifts
            ours.append(run_case(overrides, Path(tmp) / f"run{repeat}"))
            theirs.append(sgdclassifier(data_rows))
            ratios.append(theirs[-1][0] / ours[-1]["fit"])
        auto = run_case(defaults_alone(overrides), Path(tmp) / "auto")
        svc_seconds, svc = linearsvc(data_rows)
        squared = run_case(defaults_alone(overrides) + ["loss=squared_hinge"], Path(tmp) / "squared")
        squared_svc = linearsvc(data_rows, "squared_hinge")
    n_train = data_rows[0].shape[0]
    fit, sk_fit = statistics.median(r["fit"] for r in ours), statistics.median(t[0] for t in theirs)
    share = {part: statistics.median(r.get(part, 0.0) / r["fit"] for r in ours)
             for part in ("checks", "final cert", "validate", "log")}
    print(f"sparse {rows} x {features} ({n_train} train, {data_rows[0].nnz / n_train:.0f} nonzeros a row), "
          f"model=svm optim=sgd bs 4096, {EPOCHS} epochs, defaults on; medians of {repeats}")
    print(f"derivtrain: run {statistics.median(r['total'] for r in ours):.2f} s, fit {fit:.2f} s = "
          f"{n_train * EPOCHS / fit / 1e6:.2f} M samples/s; test accuracy {ours[-1]['test accuracy']:.4f}")
    print("  share of the fit: " + ", ".join(f"{part} {value:.1%}" for part, value in share.items()))
    print(f"SGDClassifier(hinge): {sk_fit:.2f} s = {n_train * EPOCHS / sk_fit / 1e6:.2f} M samples/s; "
          f"test accuracy {theirs[-1][1]:.4f}")
    print(f"derivtrain / SGDClassifier samples/s: {statistics.median(ratios):.2f}x (median of the repeats' "
          f"ratios); LinearSVC test accuracy {svc:.4f} (derivtrain {ours[-1]['test accuracy'] - svc:+.4f})")
    excess = statistics.median(r["objective"] for r in ours) / auto["objective"] - 1
    print(f"derivtrain's objective {excess:.2e} over optim=auto's certified optimum (P / P_auto - 1); its own "
          f"certified bound on the gap {statistics.median(r['gap'] for r in ours):.2g}")
    print(f"optim=auto (the defaults alone): run {auto['total']:.2f} s, fit {auto['fit']:.2f} s, "
          f"{auto['epochs']} epochs, "
          f"certified gap {auto['gap']:.2g}, test accuracy {auto['test accuracy']:.4f}; LinearSVC to tol 1e-4 "
          f"{svc_seconds:.2f} s, test accuracy {svc:.4f}")
    print(f"loss=squared_hinge, the defaults alone: run {squared['total']:.2f} s, fit {squared['fit']:.2f} s, "
          f"{squared['epochs']} epochs, certified gap {squared['gap']:.2g}, test accuracy {squared['test accuracy']:.4f}; "
          f"LinearSVC(squared_hinge) to tol 1e-4 {squared_svc[0]:.2f} s, test accuracy {squared_svc[1]:.4f}")
