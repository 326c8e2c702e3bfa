"""The binary hinge's candidate dual points (one per barrier width) by two compiled sweeps of the
rows (derivtrain/convex/hinge_duals_kernels.py), where the loops are already built on this machine.

`certify` builds a dual point from any weights by the barrier-smoothed hinge's derivative at a few
widths, scales each toward the bias's constraint (derivtrain/convex/bias.py) and reads X once for
all of them. For the binary hinge (`model=svm`, the default) that vector work was most of the end-of-
run certificate of a gradient run: 875k rows, ~85 ms of torch kernels against 64 ms for the two
passes over X. The same numbers come out of the sweeps to rounding (the sums' order differs); the
sweeps go over ranges of rows on the run's threads (the compiled loops release the GIL), and the
second one's weighted rows are backprojected a block at a time as they are written
(passes.backproject_written: never a whole (widths, n) array in memory). Where
a width's balancing leaves the closed form (a row scaled to 0 or below, or a residual above bias.py's
tolerance) this returns None and the caller takes the general path, bias.py's Newton included.
"""
import numpy as np
import torch

from derivtrain.compiled import available, kernel
from derivtrain.convex.bias import _TOLERANCE
from derivtrain.convex.passes import backproject_written
from derivtrain.threads import row_ranges, summed_blocks

_RANGE = 1 << 17  # rows a thread sweeps at a time (a multiple of the kernels' cached block of 2048)


def hinge_dual_parts(problem, mus, z, y, c, X, reduce):
    """(V (m, d) = -X^T (c theta) of each width's balanced dual point, their conjugate sums (m,)) or
    None where the sweeps do not apply (another loss, several score columns, rows not on the CPU, the
    loops not built) or a balancing leaves the closed form."""
    if not (mus and _sweeps_apply(problem, z)):
        return None
    rows = _rows(z, y, c)
    taus, ranges = np.array([float(mu) for mu in mus]), row_ranges(len(rows[0]), _RANGE)
    side_sums = kernel("hinge_side_sums", build=False)
    sums = reduce.all_sum(torch.from_numpy(summed_blocks(lambda r: side_sums(*rows, taus, *r), ranges)))
    residual, positive, negative = sums[:, 0], sums[:, 1], sums[:, 2]
    scale = sums[:, 3].clamp_min(torch.finfo(torch.float64).tiny)
    balanced = residual.abs() <= _TOLERANCE * scale  # already: no scaling (bias.py: _one_column)
    lams = torch.where(balanced, 0.0, residual / torch.where(residual > 0, positive, negative))
    if not bool(torch.isfinite(lams).all()):  # weights that diverged (NaN scores): the general path says so
        return None
    scaled_rows, lam = kernel("hinge_scaled_rows", build=False), lams.numpy()

    def write(G, start, stop):  # the block's weighted rows c t theta, and the sums the checks below read
        return scaled_rows(*(v[start:stop] for v in rows), taus, lam, G, 0, stop - start)

    parts, V = backproject_written(write, len(taus), X)
    parts = reduce.all_sum(torch.from_numpy(parts))
    left = parts[:, 1].abs() / scale
    if bool((parts[:, 0] > 0).any()) or bool(((left > _TOLERANCE) & ~balanced).any()):
        return None
    return -reduce.all_sum(V), parts[:, 2].tolist()


def hinge_rounding_sum(problem, z, y, c, reduce):
    """The rows' part of certificate.rounding_error for the binary hinge, in one compiled sweep on the
    run's threads (a 0-d float64 tensor), or None where the sweeps do not apply."""
    if not _sweeps_apply(problem, z):
        return None
    rows, rounding_sum = _rows(z, y, c), kernel("hinge_rounding_sum", build=False)
    total = summed_blocks(lambda r: rounding_sum(*rows, *r), row_ranges(len(rows[0]), _RANGE))
    return reduce.all_sum(torch.tensor(total, dtype=torch.float64))


def _sweeps_apply(problem, z) -> bool:
    """The binary hinge, declared by the loss's own class (a subclass may change its slope and
    conjugate), one score column on the CPU, and the loops already built on this machine."""
    return bool(vars(type(problem.loss)).get("hinge_sweeps")) and z.shape[1] == 1 and z.device.type == "cpu" \
        and available(build=False)


def _rows(z, y, c) -> list:
    return [np.ascontiguousarray(t.reshape(-1).to(torch.float64).numpy()) for t in (z, y, c)]
