"""One coordinate-descent epoch of the L1 model (derivtrain/trainer/l1_quadratic.py), compiled (numba;
built ahead of time by derivtrain/compiled, and used only where that module is already built: the
model is small, and numba's own start would cost more than all its epochs).

The same arithmetic as l1_quadratic._epoch, in the same order (no fastmath: no fused multiply-adds,
no reassociation), so the epochs give the same numbers bit for bit; a digits-sized model's epoch
(65 coordinates) takes microseconds where the Python loop takes ~0.1 ms. `l1_epochs` runs them until
the sign pattern holds still, as l1_quadratic._epochs does, in one call: a call an epoch had cost ~8 us
(argument checks, np.sign, np.array_equal) around ~2 us of work, ~170 times in a digits L1 logistic fit.
"""
from numba import njit


@njit(cache=True, nogil=True)
def l1_epoch(H, q, u, diag, threshold):
    """Visits every coordinate j once: u_j <- S(u_j - q_j / H_jj, threshold_j / H_jj), q = H u + c kept
    up to date (H symmetric: row j is column j); u and q in place. Returns the coordinates moved."""
    moved = 0
    for j in range(u.shape[0]):
        d = diag[j]
        if d <= 0.0:
            continue
        old = u[j]
        step, cut = old - q[j] / d, threshold[j] / d
        new = step - cut if step > cut else (step + cut if step < -cut else 0.0)
        if new != old:
            change = new - old
            row = H[j]
            for k in range(q.shape[0]):
                q[k] += row[k] * change
            u[j] = new
            moved += 1
    return moved


@njit(cache=True, nogil=True)
def l1_epochs(H, q, u, diag, threshold, pattern, start, stop, next_solve):
    """Epochs start, start + 1, ... < stop (l1_epoch each) until one leaves u's signs as `pattern` had
    them at epoch >= next_solve: returns that epoch, or stop. `pattern` (u's signs before epoch
    `start`) is kept as the signs after each epoch, in place."""
    for epoch in range(start, stop):
        l1_epoch(H, q, u, diag, threshold)
        stable = True
        for j in range(u.shape[0]):
            sign = 1.0 if u[j] > 0.0 else (-1.0 if u[j] < 0.0 else (0.0 if u[j] == 0.0 else u[j]))
            if sign != pattern[j]:  # a NaN is never equal: never stable, as np.array_equal says
                stable = False
            pattern[j] = sign
        if stable and epoch >= next_solve:
            return epoch
    return stop
