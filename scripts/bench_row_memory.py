"""Stop 47's three changes, each switched off and on in turn inside one process, on whole 1M CLI fits.

    python scripts/bench_row_memory.py [--repeats 5] [--cases sgd auto full] [--changes pages step blocks]

A change measured against the code before it, on a machine whose load moves by more than the change:
each repeat runs a case with the change off, then on, and the medians of the two are printed with the
process's CPU time beside the wall time. The fit is `derivtrain.run.fit_objective` (the fitter with its
certificates), the run the CLI's (`derivtrain.train`, defaults on: TensorBoard, validation, checks) on
`model=svm data=synthetic data.n_samples=1250000 data.n_features=100` (875k training rows).

    pages   a split's rows, a solver's float64 copy, allocated by numpy (2 MB pages where Linux gives
            them: derivtrain/data/huge_pages.py) against torch.empty
    step    the minibatch SVM step's compiled pass (derivtrain/losses/linear_svm_rows.py) against the
            two products
    blocks  derivtrain.threads.map_blocks sharing blocks from one count on the calling thread and its
            helpers, against one pool task and future a block (the code before stop 47)

Cases: sgd (`optim=sgd trainer.batch_size=4096 trainer.max_epochs=3`), auto (`optim=auto`, dual
coordinate descent), full (`optim=sgd`, full batch, 30 epochs), and sklearn: scikit-learn's
`SGDClassifier(loss="hinge")`, 3 epochs, on the numpy view of the same training split (what
scripts/bench_cli_scale.py compares with), timed alone (only the pages change reaches it).
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import derivtrain  # noqa: E402
import derivtrain.data.huge_pages as huge_pages  # noqa: E402
import derivtrain.losses.linear_svm_rows as minibatch_rows  # noqa: E402
import derivtrain.run as run  # noqa: E402
import derivtrain.threads as threads  # noqa: E402

CASES = {"sgd": ["optim=sgd", "trainer.batch_size=4096", "trainer.max_epochs=3"],
         "auto": ["optim=auto"],
         "full": ["optim=sgd", "trainer.max_epochs=30"]}
ROWS = ["model=svm", "data=synthetic", "data.n_samples=1250000", "data.n_features=100"]


def _task_a_block(fn, items) -> list:
    """map_blocks as it was before stop 47: every block a task of the pool, the caller waiting."""
    items = list(items)
    workers = 1 if getattr(threads._in_pool, "yes", False) else min(threads.available(), len(items))
    with threads.one_thread():
        if workers <= 1:
            return [fn(item) for item in items]
        return list(threads._pool(workers).map(threads._in_modes_of_caller(fn), items))


def switches() -> dict:
    """change -> function(on: bool) that sets it."""
    numpy_dtypes, takes, shared = dict(huge_pages._NUMPY), minibatch_rows._compiled_takes, threads.map_blocks

    def pages(on):
        huge_pages._NUMPY = numpy_dtypes if on else {}

    def step(on):
        minibatch_rows._compiled_takes = takes if on else (lambda *args: False)

    def blocks(on):  # in every module that took the function by name
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("derivtrain") and \
                    getattr(module, "map_blocks", None) in (shared, _task_a_block):
                module.map_blocks = shared if on else _task_a_block

    return {"pages": pages, "step": step, "blocks": blocks}


def sklearn_seconds() -> tuple:
    """(wall, CPU) seconds of SGDClassifier's 3 epochs on the training split built as the CLI builds it."""
    from sklearn.linear_model import SGDClassifier

    from derivtrain.data import build_data
    from tests.conftest import compose_config

    data = build_data(compose_config(*ROWS).data, torch.device("cpu"), seed=0)
    X, y = data.train.X.numpy(), data.train.y.numpy()
    model = SGDClassifier(loss="hinge", alpha=1e-4, max_iter=3, tol=None, random_state=0)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(X, y)
    return time.perf_counter() - wall, time.process_time() - cpu


def fit_seconds(overrides: list, folder: Path) -> tuple:
    """(wall, CPU) seconds of the fit of one CLI run."""
    spent, real = [], run.fit_objective

    def timed(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = real(*args, **kwargs)
        spent.append((time.perf_counter() - wall, time.process_time() - cpu))
        return result

    run.fit_objective = timed
    try:
        derivtrain.train(*overrides, f"hydra.run.dir={folder}")
    finally:
        run.fit_objective = real
    return spent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES) + ["sklearn"], default=["sgd", "auto", "full"])
    parser.add_argument("--changes", nargs="+", choices=["pages", "step", "blocks"],
                        default=["pages", "step", "blocks"])
    args = parser.parse_args()
    torch.manual_seed(0)
    setters = switches()
    print(f"{torch.get_num_threads()} threads; medians of {args.repeats}, each change off then on in turn")
    print(f"{'change':8} {'case':6} {'off wall':>9} {'on wall':>9} {'ratio':>7} {'off CPU':>9} {'on CPU':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for change in args.changes:
            for case in args.cases:
                def measured(folder: Path) -> tuple:
                    return sklearn_seconds() if case == "sklearn" else fit_seconds(ROWS + CASES[case], folder)

                # a warm-up run: the modules a fit imports are loaded (and the switch reaches them)
                measured(Path(tmp) / f"{change}-{case}-warm-up")
                seen = {False: [], True: []}
                for repeat in range(args.repeats):
                    for on in (False, True):
                        setters[change](on)
                        seen[on].append(measured(Path(tmp) / f"{change}-{case}-{repeat}-{on}"))
                setters[change](True)
                off, on = ([statistics.median(s[i] for s in seen[flag]) for i in (0, 1)] for flag in (False, True))
                print(f"{change:8} {case:6} {off[0]:9.3f} {on[0]:9.3f} {on[0] / off[0]:6.2f}x "
                      f"{off[1]:9.3f} {on[1]:9.3f}")


if __name__ == "__main__":
    main()
