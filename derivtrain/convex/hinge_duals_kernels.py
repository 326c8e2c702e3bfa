"""The binary hinge's barrier dual points, balanced against the bias's constraint, for several widths
in two sweeps of the rows (numba; built ahead of time by derivtrain/compiled), each over a range of
rows (derivtrain/convex/hinge_duals.py shares the ranges out over the run's threads).

The same arithmetic, in the same order per row, as derivtrain/convex/smoothing.py's
barrier_hinge_slope (theta_i = -y_i tau / (xi_i - u_i), u_i = 1 - y_i z_i) and derivtrain/convex/
bias.py's closed form for one score column (_one_column). There each width took about thirty short
torch kernels over every row, a block at a time: 875k rows, four widths, ~85 ms on one thread. Here
theta is never stored: the first sweep sums what the balancing needs, the second recomputes theta,
scales it and writes the weighted rows G = c theta the backprojection reads. Rows go in blocks that
stay in cache while every width is swept over them, and the sums may be reassociated (vector
instructions): a float64 sum in another order, with the same rounding bound. The flags that assume
no NaN or infinity are left out: diverged weights still give a NaN certificate, never a finite one.
"""
import math

import numpy as np
from numba import njit

_FLAGS = {"reassoc", "contract", "nsz"}  # vector instructions for the sums (derivtrain/convex/passes_kernels.py)
_BLOCK = 2048  # rows whose z, y, c stay in cache while every width is swept over them


@njit(cache=True, nogil=True, fastmath=_FLAGS, error_model="numpy", inline="always")
def _theta(z, y, tau):
    u = 1.0 - y * z
    xi = (u + 2.0 * tau + math.sqrt(u * u + 4.0 * tau * tau)) / 2.0
    return -y * (tau / (xi - u))


@njit(cache=True, nogil=True, fastmath=_FLAGS, error_model="numpy")
def hinge_side_sums(z, y, c, taus, first, last):
    """(m, 4) over rows first..last: for each width, sum c theta, sum c theta max(theta, 0), sum c theta
    min(theta, 0), sum c |theta| (bias.py: the residual, its two sides' slopes, the scale)."""
    m = taus.shape[0]
    sums = np.zeros((m, 4))
    for start in range(first, last, _BLOCK):
        stop = min(start + _BLOCK, last)
        for w in range(m):
            tau, residual, positive, negative, size = taus[w], 0.0, 0.0, 0.0, 0.0
            for i in range(start, stop):
                theta = _theta(z[i], y[i], tau)
                weighted = c[i] * theta
                residual += weighted
                positive += weighted * max(theta, 0.0)
                negative += weighted * min(theta, 0.0)
                size += abs(weighted)
            sums[w, 0] += residual
            sums[w, 1] += positive
            sums[w, 2] += negative
            sums[w, 3] += size
    return sums


@njit(cache=True, nogil=True, fastmath=_FLAGS, error_model="numpy")
def hinge_scaled_rows(z, y, c, taus, lams, G, first, last):
    """For rows i in first..last, G[w, i] = c_i t_i theta_i with t_i = min(1 - lam_w theta_i, 1) (lam_w =
    0: unscaled); (m, 3) over those rows: for each width, the rows with lam theta >= 1 (where the closed
    form does not hold), sum c t theta (the residual left) and sum c y t theta (the hinge's conjugate sum)."""
    m = taus.shape[0]
    out = np.zeros((m, 3))
    for start in range(first, last, _BLOCK):
        stop = min(start + _BLOCK, last)
        for w in range(m):
            tau, lam, reached, residual, conjugate = taus[w], lams[w], 0.0, 0.0, 0.0
            row = G[w]
            for i in range(start, stop):
                theta = _theta(z[i], y[i], tau)
                u = theta * lam
                reached += 1.0 if u >= 1.0 else 0.0
                weighted = c[i] * (theta * min(1.0 - u, 1.0))
                row[i] = weighted
                residual += weighted
                conjugate += weighted * y[i]
            out[w, 0] += reached
            out[w, 1] += residual
            out[w, 2] += conjugate
    return out


@njit(cache=True, nogil=True, fastmath=_FLAGS, error_model="numpy")
def hinge_rounding_sum(z, y, c, first, last):
    """sum over rows first..last of c_i (l_i + s_i (1 + |z_i| + |y_i|)): derivtrain/convex/certificate.py's
    rounding_terms for the binary hinge, l_i = max(0, 1 - y_i z_i), s_i its slope bound 1 where l_i > 0
    and |theta_i| at width 1e-12 elsewhere (O(1) within rounding of the kink)."""
    total = 0.0
    for i in range(first, last):
        u = 1.0 - y[i] * z[i]
        if u > 0.0:
            loss, slope = u, 1.0
        else:
            loss, slope = 0.0, abs(_theta(z[i], y[i], 1e-12))
        total += c[i] * (loss + slope * (1.0 + abs(z[i]) + abs(y[i])))
    return total
