"""The compiled loops built ahead of time, and the exact arguments each one takes.

Each export is a numba function of derivtrain compiled for one signature. Its arguments are written
here without numba, so the loader can check them in a process that never imports numba:

    "f8", "i8", "b1"          a Python float, int (in int64's range), bool
    "none"                    None
    "f8[::1]", "f4[:, ::1]"   a C-contiguous, aligned, writeable array of that dtype and rank
                              (element types f8, f4, i8, i4)
    "f8[:, :]"                the same of any strides (a table's columns taken from a wider array)
    "pair[::1]"               the same, of dual coordinate descent's CSR pairs (dual_cd.py: PAIR)

An ahead-of-time function does not check its arguments: an array of another dtype would be read
as if it were this one. The loader therefore calls one only on arguments that match exactly, and
leaves everything else to numba's own dispatch (derivtrain/compiled/__init__.py).
"""
import numpy as np

# dual coordinate descent's CSR rows: a stored value beside its column (derivtrain/trainer/dual_cd.py)
PAIR = np.dtype([("j", np.int64), ("v", np.float64)])

# one epoch: indptr, pairs, values, width, y, c, qdiag, upper, shift, beta, w, scale, offset, active,
# n_active, old_high, old_low, far -> (high, low, n_active, loss)
_EPOCH = ("i8[::1]", "pair[::1]", "f8[::1]", "i8", "f8[::1]", "f8[::1]", "f8[::1]", "f8[::1]")
_EPOCH_REST = ("f8[::1]", "f8[::1]", "f8", "f8", "i8[::1]", "i8", "f8", "f8", "b1")
_EPOCH_RESULT = ("f8", "f8", "i8", "f8")


def _rows(dtype: str) -> tuple:
    """hinge_rows(X, signs, W, b, start, stop) -> (total, product) for rows of one float dtype."""
    return (f"{dtype}[:, ::1]", f"{dtype}[:, ::1]", f"{dtype}[:, ::1]", f"{dtype}[::1]", "i8", "i8"), \
        ("f8", f"{dtype}[:, ::1]")


# name -> (module, function, argument types, result type or a tuple of them)
EXPORTS = {
    "hinge_epoch": ("derivtrain.trainer.dual_cd_kernels", "run_epoch", _EPOCH + ("none",) + _EPOCH_REST,
                    _EPOCH_RESULT),
    "squared_hinge_epoch": ("derivtrain.trainer.dual_cd_kernels", "run_epoch",
                            _EPOCH + ("f8[::1]",) + _EPOCH_REST, _EPOCH_RESULT),
    "hinge_rows_f4": ("derivtrain.losses.linear_svm_kernels", "hinge_rows", *_rows("f4")),
    "hinge_rows_f8": ("derivtrain.losses.linear_svm_kernels", "hinge_rows", *_rows("f8")),
    # the certificate's passes over float32 rows (derivtrain/convex/passes.py)
    "scores_rows_f4": ("derivtrain.convex.passes_kernels", "scores_rows",
                       ("f4[:, ::1]", "f8[:, ::1]", "f8[::1]", "f8[:, ::1]", "i8", "i8"), "i8"),
    "backproject_rows_f4": ("derivtrain.convex.passes_kernels", "backproject_rows",
                            ("f8[:, ::1]", "f4[:, ::1]", "i8", "i8"), "f8[:, ::1]"),
    # the binary hinge's barrier dual points, balanced (derivtrain/convex/hinge_duals.py): z, y, c, taus[, lams, G],
    # the rows' range
    "hinge_side_sums": ("derivtrain.convex.hinge_duals_kernels", "hinge_side_sums",
                        ("f8[::1]", "f8[::1]", "f8[::1]", "f8[::1]", "i8", "i8"), "f8[:, ::1]"),
    "hinge_scaled_rows": ("derivtrain.convex.hinge_duals_kernels", "hinge_scaled_rows",
                          ("f8[::1]", "f8[::1]", "f8[::1]", "f8[::1]", "f8[::1]", "f8[:, ::1]", "i8", "i8"),
                          "f8[:, ::1]"),
    "hinge_rounding_sum": ("derivtrain.convex.hinge_duals_kernels", "hinge_rounding_sum",
                           ("f8[::1]", "f8[::1]", "f8[::1]", "i8", "i8"), "f8"),
    # the L1 model's coordinate-descent epoch (derivtrain/trainer/l1_quadratic.py)
    "l1_epoch": ("derivtrain.trainer.l1_epoch_kernel", "l1_epoch",
                 ("f8[:, ::1]", "f8[::1]", "f8[::1]", "f8[::1]", "f8[::1]"), "i8"),
    # its epochs until the sign pattern holds still: H, q, u, diag, lam, pattern, start, stop, next_solve -> epoch
    "l1_epochs": ("derivtrain.trainer.l1_epoch_kernel", "l1_epochs",
                  ("f8[:, ::1]", "f8[::1]", "f8[::1]", "f8[::1]", "f8[::1]", "f8[::1]", "i8", "i8", "i8"), "i8"),
}
# the same passes over CSR rows with float32 values (X's indptr, indices, values), per index dtype
for _i in ("i4", "i8"):
    EXPORTS[f"csr_scores_rows_{_i}"] = ("derivtrain.convex.passes_kernels", "csr_scores_rows",
                                        (f"{_i}[::1]", f"{_i}[::1]", "f4[::1]", "f8[:, ::1]", "f8[::1]", "f8[:, ::1]",
                                         "i8", "i8"), "i8")
    EXPORTS[f"csr_backproject_rows_{_i}"] = ("derivtrain.convex.passes_kernels", "csr_backproject_rows",
                                             ("f8[:, ::1]", "i8", f"{_i}[::1]", f"{_i}[::1]", "f4[::1]", "i8", "i8",
                                              "i8"), "f8[:, ::1]")
# standardization's passes over in-memory rows (derivtrain/data/standardize_kernels.py), per source
# dtype (and the split's dtype): X, rows, offset, range -> (count, mean, m2); X, rows, offset, mean, scale, out, range
for _x in ("f4", "f8"):
    EXPORTS[f"row_moments_{_x}"] = ("derivtrain.data.standardize_kernels", "row_moments",
                                    (f"{_x}[:, :]", "i8[::1]", "i8", "i8", "i8"), ("i8", "f8[::1]", "f8[::1]"))
    for _out in ("f4", "f8"):
        EXPORTS[f"standardized_rows_{_x}_{_out}"] = (
            "derivtrain.data.standardize_kernels", "standardized_rows",
            (f"{_x}[:, :]", "i8[::1]", "i8", "f8[::1]", "f8[::1]", f"{_out}[:, ::1]", "i8", "i8"), "i8")

# a minibatch's shuffled dense rows, gathered with prefetches (derivtrain/data/gather_kernels.py): X, idx, out
for _x in ("f4", "f8"):
    EXPORTS[f"gather_rows_{_x}"] = ("derivtrain.data.gather_kernels", "gather_rows",
                                    (f"{_x}[:, ::1]", "i8[::1]", f"{_x}[:, ::1]"), "i8")

# the source files whose code the exports hold: a change to any of them builds the module anew
SOURCES = ("trainer/dual_cd_kernels.py", "losses/linear_svm_kernels.py", "compiled/prefetch.py",
           "convex/passes_kernels.py", "convex/hinge_duals_kernels.py", "trainer/l1_epoch_kernel.py",
           "data/standardize_kernels.py", "data/gather_kernels.py",
           "compiled/exports.py", "compiled/build.py")
