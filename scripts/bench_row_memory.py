"""Stop 47's and 48's changes, each switched off and on in turn, on whole 1M CLI runs in fresh processes.

    python scripts/bench_row_memory.py [--repeats 5] [--cases sgd auto full] [--changes pages step blocks order]

A change measured against the code before it, on a machine whose load moves by more than the change:
each repeat runs a case with the change off, then on, each run in a process of its own (a buffer's
first touch is paid once a process: a second run in the same one reuses the pages the first freed),
and the medians are printed: the run's total, its read (`derivtrain.run.build_data`) and its fit
(`derivtrain.run.fit_objective`, the fitter with its certificates), the fit's CPU time beside its
wall time. The run is the CLI's (`derivtrain.train`, defaults on: TensorBoard, validation, checks) on
`model=svm data=synthetic data.n_samples=1250000 data.n_features=100` (875k training rows).

    pages   a split's rows allocated by numpy (2 MB pages where Linux gives them: derivtrain/data/
            huge_pages.py, SPLITS_IN_HUGE_PAGES) against torch.empty (the default since stop 48)
    step    the minibatch SVM step's compiled pass (derivtrain/losses/linear_svm_rows.py) against the
            two products
    blocks  derivtrain.threads.map_blocks sharing blocks from one count on the calling thread and its
            helpers, against one pool task and future a block (the code before stop 47)
    order   dual coordinate descent's epochs over 2^16 rows or more in blocks of rows in memory order
            (derivtrain/trainer/dual_cd_order.py, stop 48) against a random permutation of the rows

Cases: sgd (`optim=sgd trainer.batch_size=4096 trainer.max_epochs=3`), auto (`optim=auto`, dual
coordinate descent), full (`optim=sgd`, full batch, 30 epochs), and sklearn: scikit-learn's
`SGDClassifier(loss="hinge")`, 3 epochs, on the numpy view of the same training split (only the
pages change reaches it; its read is the split's build).
"""
import argparse
import importlib
import json
import statistics
import subprocess
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
import derivtrain.trainer.dual_cd as dual_cd  # noqa: E402

CASES = {"sgd": ["optim=sgd", "trainer.batch_size=4096", "trainer.max_epochs=3"],
         "auto": ["optim=auto"],
         "full": ["optim=sgd", "trainer.max_epochs=30"]}
ROWS = ["model=svm", "data=synthetic", "data.n_samples=1250000", "data.n_features=100"]


_TAKE_MAP_BLOCKS = ("derivtrain.losses.linear_svm", "derivtrain.losses.linear_svm_compiled", "derivtrain.convex.passes",
                    "derivtrain.convex.hinge_duals", "derivtrain.data.compiled_standardize")


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
    takes, shared, blocked = minibatch_rows._compiled_takes, threads.map_blocks, dual_cd.shuffle_active

    def pages(on):
        huge_pages.SPLITS_IN_HUGE_PAGES = on

    def step(on):
        minibatch_rows._compiled_takes = takes if on else (lambda *args: False)

    def blocks(on):  # in every module that took the function by name
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("derivtrain") and \
                    getattr(module, "map_blocks", None) in (shared, _task_a_block):
                module.map_blocks = shared if on else _task_a_block

    def order(on):  # dual coordinate descent's epochs over many rows in blocks, or LIBLINEAR's permutation
        dual_cd.shuffle_active = blocked if on else _permuted

    return {"pages": pages, "step": step, "blocks": blocks, "order": order}


def _permuted(rng, active, n_active, n_rows):
    """LIBLINEAR's order: a random permutation of the active rows (the order before stop 48)."""
    rng.shuffle(active[:n_active])


def sklearn_seconds(_folder) -> dict:
    """SGDClassifier's 3 epochs on the training split built as the CLI builds it: its seconds."""
    from sklearn.linear_model import SGDClassifier

    from derivtrain.data import build_data
    from tests.conftest import compose_config

    start = time.perf_counter()
    data = build_data(compose_config(*ROWS).data, torch.device("cpu"), seed=0)
    X, y = data.train.X.numpy(), data.train.y.numpy()
    read = time.perf_counter() - start
    model = SGDClassifier(loss="hinge", alpha=1e-4, max_iter=3, tol=None, random_state=0)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(X, y)
    fit = time.perf_counter() - wall
    return {"total": time.perf_counter() - start, "read": read, "fit": fit, "fit CPU": time.process_time() - cpu}


def run_seconds(overrides: list, folder: Path) -> dict:
    """One CLI run's seconds: its total, read and fit (wall, and the fit's CPU time)."""
    spent = {}
    for name in ("build_data", "fit_objective"):
        real = getattr(run, name)

        def timed(*args, _real=real, _name=name, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            result = _real(*args, **kwargs)
            spent[_name] = (time.perf_counter() - wall, time.process_time() - cpu)
            return result
        setattr(run, name, timed)
    start = time.perf_counter()
    derivtrain.train(*overrides, f"hydra.run.dir={folder}")
    total = time.perf_counter() - start
    return {"total": total, "read": spent["build_data"][0], "fit": spent["fit_objective"][0],
            "fit CPU": spent["fit_objective"][1]}


def one(case: str, change: str, on: bool) -> dict:
    """One run in this process, the change set as asked (the others on, as the code has them)."""
    for name in _TAKE_MAP_BLOCKS:  # loaded first, so the blocks switch reaches the name each one took
        importlib.import_module(name)
    switches()[change](on)
    with tempfile.TemporaryDirectory() as tmp:
        return sklearn_seconds(tmp) if case == "sklearn" else run_seconds(ROWS + CASES[case], Path(tmp) / "run")


def in_fresh_process(case: str, change: str, on: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", case, change, str(int(on))], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


COLUMNS = ("total", "read", "fit", "fit CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES) + ["sklearn"], default=["sgd", "auto", "full"])
    parser.add_argument("--changes", nargs="+", choices=["pages", "step", "blocks", "order"],
                        default=["pages", "step", "blocks", "order"])
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # case change on: a run in this process
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], args.one[2] == "1")))
        return
    print(f"{torch.get_num_threads()} threads; medians of {args.repeats}, each change off then on in turn, "
          "a fresh process a run; seconds, off -> on")
    print(f"{'change':8} {'case':8} " + " ".join(f"{c:>17}" for c in COLUMNS))
    for change in args.changes:
        for case in args.cases:
            seen = {False: [], True: []}
            for _ in range(args.repeats):
                for on in (False, True):
                    seen[on].append(in_fresh_process(case, change, on))
            medians = {flag: {c: statistics.median(r[c] for r in seen[flag]) for c in COLUMNS} for flag in seen}
            print(f"{change:8} {case:8} " + " ".join(f"{medians[False][c]:7.3f} -> {medians[True][c]:6.3f}"
                                                     for c in COLUMNS), flush=True)


if __name__ == "__main__":
    main()
