"""Sparse rows: derivtrain against scikit-learn's SGDClassifier and LinearSVC on the same CSR matrix.

    python scripts/bench_scale.py --sparse [--n 1000000] [--d 100000] [--nnz 50] [--repeats 3]

A synthetic text-like problem: n rows, d columns, ~nnz nonzeros a row (column popularity falls
off like 1/sqrt(rank), values log-normal, each row scaled to unit length as tf-idf rows are), the
label a planted linear rule of the row plus 5 % noise on the score; 80 % train, 20 % test. Rows
are not standardized (data.standardize=false: unit-length rows, the usual text setup), so every
method sees the very same matrix. The objective is mean hinge + alpha/2 ||w||^2 (LinearSVC's C =
1/(alpha n_train); LinearSVC penalizes its intercept as a weight, see linearsvc_ladder).

derivtrain trains with optim=adam (lr 0.02, cosine decay over the epochs; SGD's one step size suits
rare features badly, see LR below). Printed: samples/s of one epoch of minibatch hinge (batches of
16384 and 4096 rows; derivtrain's shuffle=rows gathers each batch's rows, the next batch's on a
second thread while this one trains, shuffle=batches slices them) against SGDClassifier's epoch
(one row at a time, one thread); the time each
method takes to weights within 1e-3 of the optimum, relative (checked after each epoch of the
gradient methods, up to 10; LinearSVC at tol 1e-1 .. 1e-4, each run from scratch, at most 1000
passes), against the certified solver's dual bound (--with-certified: a proof) or else the least
objective any method reached (an estimate); test accuracy.

--with-certified adds derivtrain's certified solver (optim=auto): an interior-point method whose
Newton systems X^T D X + alpha I are solved by Jacobi-preconditioned CG past 2048 features; with
the barrier's D spanning many orders of magnitude CG takes ~200 steps a solve (measured on
20k x 5k: 11 iterations, 4551 Hessian-vector products), so at 1M x 100k it may run for hours:
measure it on a smaller --n first. Targets (issue 18): throughput >= 1.5x SGDClassifier;
accuracy within 0.005 of LinearSVC.
"""
import statistics
import time
import warnings

import numpy as np
import torch

# 16384 rows a step: 49 steps an epoch of 800k rows, as accurate as 4096 in 10 epochs (below) and ~2x the
# samples/s (a step's fixed cost, Adam's pass over all 100k weights included, is spread over 4x the rows)
BATCH, SMALL_BATCH, GAP = 16384, 4096, 1e-3
ALPHA = 1e-5  # C = 0.125 at 800k training rows (--alpha); at 1e-6 LinearSVC's dual solver crawls (measured)
# Adam: per-feature step sizes, which a rare feature's weight needs. Measured on 200k x 20k, 50 nonzeros
# a row, 10 epochs: Adam(0.05) 0.915 test accuracy, SGD with momentum (lr 4, batch 512) 0.900, with
# lr 0.1-64 at batch 4096 <= 0.81; SGDClassifier 0.909 in 5 epochs. At 1M x 100k (800k training rows,
# 10 epochs with a cosine decay, test accuracy / objective): batch 16384 lr 0.01 0.8397 / 0.63657, lr 0.02
# 0.8400 / 0.63606, lr 0.04 0.8383; batch 4096 lr 0.01 0.8391 / 0.63656, lr 0.05 0.823 / 0.662 (constant
# or cosine); SGDClassifier 0.8401 / 0.63559, LinearSVC 0.8401 / 0.63510
LR, SCHEDULE = 0.02, "cosine"


def make_sparse(n: int, d: int, nnz: int, seed: int = 0):
    """(X scipy CSR float32, y in {0, 1}) from a planted linear rule."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    cols = np.minimum((d * rng.random(n * nnz) ** 2).astype(np.int64), d - 1)  # popular columns first
    values = rng.lognormal(size=n * nnz).astype(np.float32)
    X = sp.csr_matrix((values, cols, np.arange(0, n * nnz + 1, nnz)), shape=(n, d))
    X.sum_duplicates()
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.diags((1 / norms).astype(np.float32)) @ X
    w = rng.normal(size=d).astype(np.float32)
    score = X @ w
    y = (score + 0.05 * score.std() * rng.normal(size=n) > np.median(score)).astype(np.int64)
    return X.tocsr(), y


def setup(X, y):
    """derivtrain's config, Data (train/test as torch CSR) and objective on the first 80 % of rows."""
    from derivtrain.data.sparse import from_scipy
    from derivtrain.data.table import Data, DataSpec, Split
    from derivtrain.run import build_objective
    from tests.conftest import compose_config

    cfg = compose_config("model=svm", "optim=adam", "logger=none", "trainer.val_every_n_epochs=0",
                         f"trainer.batch_size={BATCH}", "trainer.progress_bar=false", f"optim.lr={LR}",
                         f"optim.schedule={SCHEDULE}",
                         "trainer.log_every_n_steps=1000000", f"regularizer.strength={ALPHA}")
    n_train = int(0.8 * len(y))
    spec = DataSpec(task="classification", n_features=X.shape[1], classes=[0, 1])
    split = lambda rows: Split(X=from_scipy(X[rows]), y=torch.from_numpy(y[rows]))
    d = X.shape[1]
    data = Data(spec=spec, train=split(slice(0, n_train)), val=None, test=split(slice(n_train, None)),
                feature_mean=torch.zeros(d), feature_scale=torch.ones(d))
    return cfg, data, build_objective(cfg, data)


def derivtrain_epochs(cfg, data, shuffle: str, epochs: int = 1, on_epoch=None):
    """Seconds of `epochs` epochs of the gradient loop (set-up, evaluation and certificates excluded)."""
    from derivtrain.logging import NullLogger
    from derivtrain.run import build_objective
    from derivtrain.trainer.fitting import make_context
    from derivtrain.trainer.loop import GradientLoop

    cfg.trainer.shuffle, cfg.trainer.max_epochs = shuffle, epochs  # the learning rate's decay spans them
    objective = build_objective(cfg, data)
    loop = GradientLoop(make_context(cfg, objective, data, NullLogger()))
    loop.epoch_end = lambda epoch, loss: False  # no validation or certificate inside the timing
    elapsed = 0.0
    for epoch in range(epochs):
        loop.max_epochs = epoch + 1
        start = time.perf_counter()
        loop.train(type("NoStop", (), {"signal_name": None})())
        elapsed += time.perf_counter() - start
        if on_epoch is not None and on_epoch(objective, elapsed):
            break
    return elapsed, objective


def primal(objective, data) -> float:
    """Our objective (mean hinge + alpha/2 ||w||^2) at the model's weights, in float64."""
    from derivtrain.convex.certificate import primal_value

    return primal_value(objective, data.train.X, objective.loss.encode_targets(data.train.y, 1))


def set_weights(objective, coef, intercept) -> None:
    with torch.no_grad():
        objective.model.linear.weight.copy_(torch.as_tensor(np.asarray(coef), dtype=torch.float32).reshape(1, -1))
        objective.model.linear.bias.copy_(torch.as_tensor(np.asarray(intercept), dtype=torch.float32).reshape(1))


def accuracy(objective, data) -> float:
    from derivtrain.trainer.metrics import evaluate

    targets = objective.loss.encode_targets(data.test.y, 1)
    return evaluate(objective, data.test, targets, "test", 2)["test/accuracy"]


def sgdclassifier_epochs(Xtr, ytr, epochs: int, on_epoch=None):
    from sklearn.linear_model import SGDClassifier

    clf = SGDClassifier(loss="hinge", alpha=ALPHA, random_state=0)
    elapsed = 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        clf.partial_fit(Xtr, ytr, classes=[0, 1])  # one epoch, its learning-rate schedule going on
        elapsed += time.perf_counter() - start
        if on_epoch is not None and on_epoch(clf, elapsed):
            break
    return elapsed, clf


def linearsvc_ladder(Xtr, ytr, objective, data):
    """[(seconds, objective value)] of LinearSVC at tolerances 1e-1 .. 1e-4 (at most 1000 passes
    each), and its tightest model's test accuracy."""
    from sklearn.svm import LinearSVC

    trace = []
    for tol in (1e-1, 1e-2, 1e-3, 1e-4):
        # intercept_scaling=1, LIBLINEAR's own: its intercept is then penalized as a weight (alpha/2 b^2, a
        # negligible change of the optimum here). At 100 (an intercept nearly free, as derivtrain's) its dual
        # coordinate descent is badly conditioned: at 1M rows, 1000 passes in 866 s, objective 0.701,
        # accuracy 0.703 (measured), against 0.6351 and 0.840 in 7 s at 1
        clf = LinearSVC(C=1 / (ALPHA * len(ytr)), loss="hinge", dual=True, tol=tol, max_iter=1000)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(Xtr, ytr)
        seconds = time.perf_counter() - start
        set_weights(objective, clf.coef_, clf.intercept_)
        trace.append((seconds, primal(objective, data)))
    return trace, accuracy(objective, data)


def certified_fit(cfg, data):
    """derivtrain's optim=auto (the certified solver) stopped at optim.tol = GAP."""
    from derivtrain.logging import NullLogger
    from derivtrain.run import build_objective
    from derivtrain.trainer.certified import fit_certified
    from derivtrain.trainer.fitting import make_context
    from tests.conftest import compose_config

    auto = compose_config("model=svm", "optim=auto", f"optim.tol={GAP}", "logger=none", f"regularizer.strength={ALPHA}",
                          "trainer.val_every_n_epochs=0", f"trainer.device={data.feature_mean.device.type}")
    objective = build_objective(auto, data)
    start = time.perf_counter()
    result = fit_certified(make_context(auto, objective, data, NullLogger()))
    return time.perf_counter() - start, objective, result.certificate.dual


def main(n: int, d: int, nnz: int, repeats: int, device: str = "cpu", max_epochs: int = 10,
         with_certified: bool = False, lr: float | None = None, alpha: float | None = None) -> None:
    from dataclasses import replace

    global LR, ALPHA
    LR, ALPHA = lr or LR, alpha or ALPHA

    X, y = make_sparse(n, d, nnz)
    n_train = int(0.8 * n)
    Xtr, ytr = X[:n_train], y[:n_train]
    cfg, data, objective = setup(X, y)
    if device != "cpu":
        data = replace(data, train=replace(data.train, X=data.train.X.to(device), y=data.train.y.to(device)),
                       test=replace(data.test, X=data.test.X.to(device), y=data.test.y.to(device)),
                       feature_mean=data.feature_mean.to(device), feature_scale=data.feature_scale.to(device))
        cfg.trainer.device = device
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {n} x {d} sparse float32, "
          f"{X.nnz / n:.0f} nonzeros a row, alpha {ALPHA}, Adam lr {LR} ({SCHEDULE}), median of {repeats}\n")
    throughput(cfg, data, Xtr, ytr, repeats)
    cfg.trainer.batch_size = BATCH
    time_to_gap(cfg, data, objective, Xtr, ytr, max_epochs, with_certified)


def throughput(cfg, data, Xtr, ytr, repeats: int) -> None:
    """Samples/s of one epoch: derivtrain at each batch size and shuffle, and SGDClassifier, run in
    turn in every repeat (this machine's speed drifts by tens of percent over a minute); the ratio
    is each repeat's own, its median printed."""
    configs = [(batch, shuffle) for batch in (BATCH, SMALL_BATCH) for shuffle in ("batches", "rows")]
    sgd = "scikit-learn SGDClassifier(hinge), one row at a time"
    for batch, shuffle in configs:  # warm-up: lazy imports and first allocations
        cfg.trainer.batch_size = batch
        derivtrain_epochs(cfg, data, shuffle)
    rates = {}
    for _ in range(repeats):
        for batch, shuffle in configs:
            cfg.trainer.batch_size = batch
            rates.setdefault(f"derivtrain (batch {batch}, shuffle={shuffle})", []).append(
                len(ytr) / derivtrain_epochs(cfg, data, shuffle)[0])
        rates.setdefault(sgd, []).append(len(ytr) / sgdclassifier_epochs(Xtr, ytr, 1)[0])
    print("| one epoch of minibatch hinge | samples / s | vs SGDClassifier (median of the repeats' ratios) |")
    print("| --- | --- | --- |")
    for name, samples in rates.items():
        ratio = statistics.median(ours / theirs for ours, theirs in zip(samples, rates[sgd]))
        print(f"| {name} | {statistics.median(samples) / 1e6:.2f} M | {ratio:.2f}x |")


def time_to_gap(cfg, data, objective, Xtr, ytr, max_epochs: int, with_certified: bool) -> None:
    """Seconds until each method's weights are within GAP of the optimum (relative), and accuracy.
    The optimum's lower bound: the certified solver's dual value (--with-certified: a proof), else
    the least objective any method reached (an estimate). Certificates built from another
    method's weights alone are loose at alpha = 1e-6 (a dual point's error costs ||.||^2 / (2 alpha))."""
    traces, accuracies, lower = {}, {}, None
    if with_certified:
        seconds, certified, lower = certified_fit(cfg, data)
        traces["derivtrain optim=auto (certified solver)"] = [(seconds, primal(certified, data))]
        accuracies["derivtrain optim=auto (certified solver)"] = accuracy(certified, data)
    name = f"derivtrain optim=adam (batch {BATCH}, shuffle=batches)"
    traces[name] = []
    _, model = derivtrain_epochs(cfg, data, "batches", max_epochs,
                                 lambda model, seconds: traces[name].append((seconds, primal(model, data))))
    accuracies[name] = accuracy(model, data)

    def sklearn_epoch(clf, seconds):
        set_weights(objective, clf.coef_, clf.intercept_)
        traces["scikit-learn SGDClassifier(hinge)"].append((seconds, primal(objective, data)))

    traces["scikit-learn SGDClassifier(hinge)"] = []
    _, clf = sgdclassifier_epochs(Xtr, ytr, max_epochs, sklearn_epoch)
    set_weights(objective, clf.coef_, clf.intercept_)
    accuracies["scikit-learn SGDClassifier(hinge)"] = accuracy(objective, data)
    name = "scikit-learn LinearSVC(hinge, tol 1e-1 .. 1e-4)"
    traces[name], accuracies[name] = linearsvc_ladder(Xtr, ytr, objective, data)
    how = "against the certified solver's dual bound: a proof"
    if lower is None:
        lower = min(p for trace in traces.values() for _, p in trace)
        how = "against the least objective reached: an estimate"
    print(f"\n| method | seconds to a gap <= {GAP:g} ({how}) | test accuracy |\n| --- | --- | --- |")
    for name, trace in traces.items():
        gaps = [(seconds, max(p - lower, 0.0) / abs(p)) for seconds, p in trace]
        reached = next((seconds for seconds, gap in gaps if gap <= GAP), None)
        last_seconds, last_gap = gaps[-1]
        shown = f"{reached:.1f}" if reached is not None else f"not reached (gap {last_gap:.2g} at {last_seconds:.1f} s)"
        print(f"| {name} | {shown} | {accuracies[name]:.4f} |")
