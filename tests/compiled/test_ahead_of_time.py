"""The loops compiled ahead of time (derivtrain/compiled): the same numbers as numba's just-in-time
functions on real rows, a fit in a fresh process without importing numba, and numba's own functions
wherever the module cannot be had or the arguments are not exactly its types."""
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits

import derivtrain.compiled as compiled
from derivtrain.compiled.exports import EXPORTS, PAIR, SOURCES
from derivtrain.trainer.dual_cd import _NO_INDEX, _NO_PAIRS, _NO_VALUES, _pairs

# a machine without a C compiler has no module: its runs take numba's functions (the last tests below)
needs_module = pytest.mark.skipif(compiled._ahead_of_time() is None, reason="no ahead-of-time module here")


def _jit(name):
    """numba's function of an export, as the modules define it."""
    from derivtrain.losses.linear_svm_kernels import hinge_rows
    from derivtrain.trainer.dual_cd_kernels import run_epoch

    return run_epoch if name.endswith("epoch") else hinge_rows


def _epoch_arguments(layout: str, squared: bool):
    """An epoch's arguments on breast_cancer's standardized rows (dense, or as CSR: the same numbers),
    from beta = 0, a random visiting order, alpha = 1e-3."""
    X, label = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    n, d = X.shape
    y, c, alpha = np.where(label == 1, 1.0, -1.0), np.full(n, 1.0 / n), 1e-3
    if layout == "dense":
        rows = (_NO_INDEX, _NO_PAIRS, np.ascontiguousarray(X).reshape(-1), d)
    else:
        import torch

        from derivtrain.data.sparse import from_scipy

        csr = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
        rows = (csr.indptr.astype(np.int64), _pairs(from_scipy(csr, dtype=torch.float64)), _NO_VALUES, 0)
    shift = np.full(n, alpha / (2 / n)) if squared else None
    upper = np.full(n, np.inf) if squared else c / alpha
    qdiag = (X * X).sum(1) + 0.01 + (0.0 if shift is None else shift)
    active = np.random.default_rng(0).permutation(n)
    return [*rows, y, c, qdiag, upper, shift, np.zeros(n), np.zeros(d + 1), 0.1, 0.0, active, n, np.inf, -np.inf,
            False]


def _copy(arguments):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in arguments]


@needs_module
@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("squared", [False, True], ids=["hinge", "squared_hinge"])
def test_epochs_equal_numbas_bit_for_bit(layout, squared, monkeypatch):
    name = "squared_hinge_epoch" if squared else "hinge_epoch"
    ahead = _epoch_arguments(layout, squared)
    jit = _copy(ahead)
    function = compiled.kernel(name)
    monkeypatch.setattr(compiled, "_jit", lambda name: pytest.fail("the ahead-of-time epoch was not taken"))
    for _ in range(3):  # beta, w and the visiting order carry from epoch to epoch
        got, expected = function(*ahead), _jit(name)(*jit)
        assert got == expected
        assert got[2] > 0 and got[3] > 0  # rows still active, a loss seen: the epoch did work
    for mine, theirs in zip(ahead, jit):
        if isinstance(mine, np.ndarray):
            np.testing.assert_array_equal(mine, theirs)  # beta, w, the order of the active rows
    assert np.count_nonzero(ahead[9]) > 0


@needs_module
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hinge_rows_equal_numbas_bit_for_bit(dtype, monkeypatch):
    X, label = load_digits(return_X_y=True)
    X = np.ascontiguousarray((X - X.mean(0)) / (X.std(0) + 1e-12), dtype=dtype)
    signs = np.where(label[:, None] == np.arange(10), 1.0, -1.0).astype(dtype)
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((10, 64)).astype(dtype) * 0.1, np.zeros(10, dtype)
    name = "hinge_rows_f4" if dtype == np.float32 else "hinge_rows_f8"
    function = compiled.kernel(name)
    monkeypatch.setattr(compiled, "_jit", lambda name: pytest.fail("the ahead-of-time pass was not taken"))
    total, product = function(X, signs, W, b, 100, 1500)
    expected_total, expected_product = _jit(name)(X, signs, W, b, 100, 1500)
    assert total == expected_total and total > 0
    assert product.dtype == dtype
    np.testing.assert_array_equal(product, expected_product)


@needs_module
def test_mismatched_arguments_go_to_numbas_function(monkeypatch):
    """int32 row starts, a float32 array, a strided view: never read as the export's types."""
    taken = []

    def jit(name):
        taken.append(name)
        return _jit(name)

    monkeypatch.setattr(compiled, "_jit", jit)
    function = compiled.kernel("hinge_epoch")
    arguments = _epoch_arguments("csr", False)
    expected = _jit("hinge_epoch")(*_copy(arguments))
    mismatches = ((0, arguments[0].astype(np.int32)), (4, arguments[4].astype(np.float32)),
                  (5, np.repeat(arguments[5], 2)[::2]))
    for calls, (position, bad) in enumerate(mismatches, start=1):
        mismatched = _copy(arguments)
        mismatched[position] = bad
        got = function(*mismatched)
        assert len(taken) == calls
        assert got[2] == expected[2] and got[3] == pytest.approx(expected[3], rel=1e-6)


def test_without_the_module_numbas_functions_run(monkeypatch):
    monkeypatch.setattr(compiled, "_module", [None])
    assert compiled.kernel("hinge_epoch") is _jit("hinge_epoch")
    assert compiled.kernel("scores_rows_f4").__name__ == "scores_rows"


def test_a_failed_build_is_logged_and_left_to_numba(monkeypatch, tmp_path):
    monkeypatch.setattr(compiled, "_module", [])
    monkeypatch.setattr(compiled, "_path", lambda: tmp_path / "absent" / "kernels_x.so")
    monkeypatch.setattr(compiled, "_build", lambda path, failed: (_ for _ in ()).throw(RuntimeError("no C compiler")))
    said = []
    monkeypatch.setattr(compiled.log, "info", lambda message, *args: said.append(message % args))
    assert compiled.kernel("hinge_rows_f4") is _jit("hinge_rows_f4")
    assert not compiled.available()  # asked once a process: no second build
    assert len(said) == 1 and "no C compiler" in said[0] and "numba compiles them" in said[0]


def test_a_build_that_failed_is_not_tried_again_by_every_run(monkeypatch, tmp_path):
    """No C compiler: the first run's build fails and says so; later runs (processes) read why from
    the note it left, without building again, until the note is deleted."""
    path = tmp_path / "kernels_x.cpython-311-x86_64-linux-gnu.so"
    monkeypatch.setattr(compiled, "_module", [])
    monkeypatch.setattr(compiled, "_path", lambda: path)
    failing = subprocess.CompletedProcess([], 1, "", "numba: ...\nerror: command 'gcc' failed: No such file\n")
    monkeypatch.setattr(compiled.subprocess, "run", lambda *args, **kwargs: failing)
    said = []
    monkeypatch.setattr(compiled.log, "info", lambda message, *args: said.append(message % args))
    assert not compiled.available()
    assert (tmp_path / "kernels_x.failed").read_text() == "error: command 'gcc' failed: No such file"
    monkeypatch.setattr(compiled, "_module", [])  # a later process
    monkeypatch.setattr(compiled.subprocess, "run", lambda *args, **kwargs: pytest.fail("built again"))
    assert not compiled.available()
    assert "gcc' failed" in said[-1] and "delete" in said[-1] and "kernels_x.failed" in said[-1]


def test_a_small_problem_never_waits_for_a_build(monkeypatch, tmp_path):
    monkeypatch.setattr(compiled, "_module", [])
    monkeypatch.setattr(compiled, "_path", lambda: tmp_path / "kernels_x.so")
    monkeypatch.setattr(compiled, "_build", lambda path, failed: pytest.fail("built for a small problem"))
    assert not compiled.available(build=False)
    assert compiled._module == []  # not decided: a loop that needs the module may still build it


def test_the_module_is_keyed_on_the_kernels_source(monkeypatch, tmp_path):
    import shutil

    copy = tmp_path / "derivtrain"
    for source in SOURCES:
        (copy / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(compiled._PACKAGE / source, copy / source)
    monkeypatch.setattr(compiled, "_PACKAGE", copy)
    compiled._path.cache_clear()  # (found once a process: here the sources change within one)
    before = compiled._path()
    with open(copy / "trainer/dual_cd_kernels.py", "a") as kernels:
        kernels.write("\n# an edit\n")
    compiled._path.cache_clear()
    after = compiled._path()
    compiled._path.cache_clear()
    assert after != before and after.parent == before.parent


@needs_module
def test_a_fresh_process_fits_by_dual_coordinates_without_numba():
    code = ("import sys, numpy as np, scipy.sparse as sp, derivtrain\n"
            "rng = np.random.default_rng(0)\n"
            "from sklearn.preprocessing import normalize\n"
            "X = normalize(sp.random(20000, 500, density=0.02, random_state=0, format='csr'))\n"
            "y = (X @ rng.standard_normal(500) > 0).astype(int)\n"
            "import derivtrain.trainer.dual_cd as dual_cd\n"
            "epochs, epoch = [], dual_cd._Column.epoch\n"
            "dual_cd._Column.epoch = lambda column, *args: epochs.append(1) or epoch(column, *args)\n"
            "derivtrain.Estimator(model='svm', standardize=False).fit(X, y)\n"
            "print(len(epochs) > 0, any(m == 'numba' or m.startswith('numba.') for m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"], done.stdout + done.stderr


def test_every_export_names_a_numba_function():
    import importlib

    for name, (module, function, arguments, results) in EXPORTS.items():
        assert hasattr(getattr(importlib.import_module(module), function), "py_func"), name
        assert all(compiled._check(spec) for spec in arguments)
    assert PAIR.itemsize == 16


def _l1_model():
    """The L1 model of a lasso on digits' standardized rows at zero: H = X^T X / n + a small ridge
    (bias column of ones last, unpenalized), c = -X^T y / n, lam 1e-2 on every weight."""
    X, label = load_digits(return_X_y=True)
    X = np.hstack([(X - X.mean(0)) / (X.std(0) + 1e-12), np.ones((len(X), 1))])
    H = X.T @ X / len(X) + 1e-6 * np.eye(X.shape[1])
    lam = np.full(X.shape[1], 1e-2)
    lam[-1] = 0.0
    return H, -X.T @ label.astype(np.float64) / len(X), lam


@needs_module
def test_l1_epochs_equal_pythons_bit_for_bit(monkeypatch):
    from derivtrain.trainer import l1_quadratic

    H, c, lam = _l1_model()
    compiled_u, python_u = np.zeros(len(c)), np.zeros(len(c))
    compiled_q, python_q = H @ compiled_u + c, H @ python_u + c
    diag = np.diag(H).copy()
    epoch = compiled.kernel("l1_epoch", fallback=lambda *args: pytest.fail("the compiled epoch was not taken"))
    for _ in range(20):
        moved = epoch(H, compiled_q, compiled_u, diag, lam)
        l1_quadratic._epoch(H, python_q, python_u, diag, lam)
        np.testing.assert_array_equal(compiled_u, python_u)
        np.testing.assert_array_equal(compiled_q, python_q)
    assert moved > 0 and 0 < np.count_nonzero(compiled_u) < len(c)
    # the epochs until the signs hold still: the same epoch, weights, q and signs as Python's loop of them
    epochs = compiled.kernel("l1_epochs", fallback=lambda *args: pytest.fail("the compiled epochs were not taken"))
    runs = {}
    for name, run in (("compiled", epochs), ("python", l1_quadratic._epochs)):
        u = np.zeros(len(c))
        q, pattern = H @ u + c, np.sign(u)
        stops = [run(H, q, u, diag, lam, pattern, 0, 2000, 0)]
        stops.append(run(H, q, u, diag, lam, pattern, stops[0] + 1, 2000, stops[0] + 40))
        runs[name] = (stops, u, q, pattern)
    for compiled_part, python_part in zip(runs["compiled"], runs["python"]):
        np.testing.assert_array_equal(compiled_part, python_part)
    assert 0 < runs["compiled"][0][0] and runs["compiled"][0][1] >= runs["compiled"][0][0] + 40
    # and the solve takes it: the same minimizer as with the Python epochs
    with monkeypatch.context() as python_only:
        python_only.setattr(l1_quadratic, "kernel", lambda name, fallback, build: fallback)
        expected = l1_quadratic.solve_l1_quadratic(H, c, lam, np.zeros(len(c)))
    monkeypatch.setattr(l1_quadratic, "_epoch", lambda *args: pytest.fail("the Python epoch ran"))
    monkeypatch.setattr(l1_quadratic, "_epochs", lambda *args: pytest.fail("the Python epochs ran"))
    np.testing.assert_array_equal(l1_quadratic.solve_l1_quadratic(H, c, lam, np.zeros(len(c))), expected)



@needs_module
def test_a_warm_start_takes_compiled_epochs_not_sign_moves(monkeypatch):
    """Sign-pattern moves are for Python's epochs: with compiled ones a start with weights goes to
    coordinate descent too, and reaches the same minimizer the moves do."""
    from derivtrain.trainer import l1_quadratic

    H, c, lam = _l1_model()
    start = l1_quadratic.solve_l1_quadratic(H, c, lam, np.zeros(len(c)))
    start[start != 0] *= 1.5  # a proximal Newton step's start: the pattern right, the weights off
    moves = l1_quadratic.feature_sign_search(H, c, lam, start)
    assert moves is not None
    monkeypatch.setattr(l1_quadratic, "feature_sign_search", lambda *args: pytest.fail("sign moves ran"))
    np.testing.assert_allclose(l1_quadratic.solve_l1_quadratic(H, c, lam, start), moves, atol=1e-10)

def test_a_small_model_never_waits_for_the_build(monkeypatch, tmp_path):
    """Without the module on this machine the L1 model's epochs stay Python's, and nothing is built."""
    monkeypatch.setattr(compiled, "_module", [])
    monkeypatch.setattr(compiled, "_path", lambda: tmp_path / "kernels_x.so")
    monkeypatch.setattr(compiled, "_build", lambda path, failed: pytest.fail("built for a small problem"))
    from derivtrain.trainer import l1_quadratic

    assert compiled.kernel("l1_epochs", fallback=l1_quadratic._epochs, build=False) is l1_quadratic._epochs


@needs_module
def test_a_compiled_loop_lets_other_threads_run():
    """The module's loops release the GIL as numba's nogil functions do (derivtrain/compiled/build.py:
    _release_the_gil). One thread backprojects 200k rows onto 16 columns (tens of ms in one call) while
    this one steps through Python. Python's switch interval is made 0.2 s, so a thread holding the GIL
    keeps it through its call and the two clock readings around it: then no step of this thread could
    fall between them."""
    import sys
    import threading
    import time

    rows = np.random.default_rng(0).standard_normal((200_000, 100)).astype(np.float32)
    Gt = np.ones((16, len(rows)))
    backproject = compiled.kernel("backproject_rows_f4", build=False)
    call, steps = [], []
    worker = threading.Thread(target=lambda: call.extend([time.perf_counter(), backproject(Gt, rows, 0, len(rows)),
                                                          time.perf_counter()]))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.2)
    try:
        worker.start()
        while worker.is_alive():
            steps.append(time.perf_counter())
    finally:
        sys.setswitchinterval(interval)
    start, _, end = call
    assert any(start < t < end for t in steps), (end - start, len(steps))


@needs_module
def test_the_modules_wrapper_is_made_once_and_forgotten_with_the_module(monkeypatch):
    """A minibatch step asks for its loop every step: the same wrapper each time while the module is
    loaded; where the module is gone (a process without one), numba's function, not the old wrapper."""
    first = compiled.kernel("hinge_rows_f4", build=False)
    assert compiled.kernel("hinge_rows_f4", build=False) is first
    assert compiled.kernel("hinge_rows_f4", fallback=print, build=False) is not first  # its own fallback
    monkeypatch.setattr(compiled, "_module", [None])
    assert compiled.kernel("hinge_rows_f4") is _jit("hinge_rows_f4")
