"""The binary hinge's candidate dual points (one per barrier width) by two compiled sweeps of the
rows (derivtrain/convex/hinge_duals_kernels.py), where the loops are already built on this machine.

`certify` builds a dual point from any weights by the barrier-smoothed hinge's derivative at a few
widths, scales each toward the bias's constraint (derivtrain/convex/bias.py) and reads X once for
all of them. For the binary hinge (`model=svm`, the default) that vector work was most of the end-of-
run certificate of a gradient run: 875k rows, ~85 ms of torch kernels against 64 ms for the two
passes over X. The same numbers come out of the sweeps to rounding (the sums' order differs). Where
a width's balancing leaves the closed form (a row scaled to 0 or below, or a residual above bias.py's
tolerance) this returns None and the caller takes the general path, bias.py's Newton included.
"""
import numpy as np
import torch

from derivtrain.compiled import available, kernel
from derivtrain.convex.bias import _TOLERANCE
from derivtrain.convex.passes import backproject


def hinge_dual_parts(problem, mus, z, y, c, X, reduce):
    """(V (m, d) = -X^T (c theta) of each width's balanced dual point, their conjugate sums (m,)) or
    None where the sweeps do not apply (another loss, several score columns, rows not on the CPU, the
    loops not built) or a balancing leaves the closed form."""
    # the loss's own class declares the binary hinge's slope and conjugate (a subclass may change them)
    if not (mus and vars(type(problem.loss)).get("hinge_sweeps") and z.shape[1] == 1 and z.device.type == "cpu"
            and available(build=False)):
        return None
    rows = [np.ascontiguousarray(t.reshape(-1).to(torch.float64).numpy()) for t in (z, y, c)]
    taus = np.array([float(mu) for mu in mus])
    sums = reduce.all_sum(torch.from_numpy(kernel("hinge_side_sums", build=False)(*rows, taus)))
    residual, positive, negative = sums[:, 0], sums[:, 1], sums[:, 2]
    scale = sums[:, 3].clamp_min(torch.finfo(torch.float64).tiny)
    balanced = residual.abs() <= _TOLERANCE * scale  # already: no scaling (bias.py: _one_column)
    lams = torch.where(balanced, 0.0, residual / torch.where(residual > 0, positive, negative))
    if not bool(torch.isfinite(lams).all()):  # weights that diverged (NaN scores): the general path says so
        return None
    G = np.empty((len(taus), len(rows[0])))
    parts = reduce.all_sum(torch.from_numpy(kernel("hinge_scaled_rows", build=False)(*rows, taus, lams.numpy(),
                                                                                      G)))
    left = parts[:, 1].abs() / scale
    if bool((parts[:, 0] > 0).any()) or bool(((left > _TOLERANCE) & ~balanced).any()):
        return None
    V = -reduce.all_sum(backproject(torch.from_numpy(G), X))
    return V, parts[:, 2].tolist()
