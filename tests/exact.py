"""Reference optima for the convex linear models, from solvers that are not derivtrain's.

The hinge family (binary, one-vs-rest, Crammer-Singer, Weston-Watkins) with an L2 and/or L1
penalty is a quadratic (or linear) program in epigraph form; it is written out here from the
losses' textbook definitions, independently of derivtrain/convex, and solved by Clarabel, an
interior-point conic solver, to 1e-10; so is the squared hinge's quadratic program in its slacks
(squared_hinge_optimum). Other smooth losses are compared with scikit-learn or smooth_optimum.

    min  sum_u c_u xi_u + alpha (1 - r)/2 ||W||^2 + alpha r sum v
    s.t. xi_u >= a . (W x_i + b) + beta    for every affine piece (a, beta) of unit u
         v >= W, v >= -W
"""
import numpy as np
import scipy.sparse as sp


def hinge_units(variant: str, y: np.ndarray, K: int):
    """[(row, [(a (K,), beta), ...])] for each unit: the loss is the sum over units of max over pieces."""
    units = []
    for i, label in enumerate(y):
        if K == 1:  # binary: y in {0, 1}, sign s = 2y - 1
            units.append((i, [(np.zeros(1), 0.0), (np.array([-(2.0 * label - 1)]), 1.0)]))
        elif variant == "ovr":
            for k in range(K):
                sign = 1.0 if k == label else -1.0
                units.append((i, [(np.zeros(K), 0.0), (-sign * np.eye(K)[k], 1.0)]))
        elif variant == "crammer_singer":
            units.append((i, [(np.eye(K)[k] - np.eye(K)[label], float(k != label)) for k in range(K)]))
        elif variant == "weston_watkins":
            for k in range(K):
                if k != label:
                    units.append((i, [(np.zeros(K), 0.0), (np.eye(K)[k] - np.eye(K)[label], 1.0)]))
    return units


def hinge_optimum(X: np.ndarray, y: np.ndarray, K: int, variant: str, alpha: float, l1_ratio: float = 0.0,
                  weights=None, scale: float = 1.0) -> float:
    """min over (W, b) of sum_i c_i loss_i + penalty, c = weights / sum (uniform by default).
    `scale`: the objective is solved multiplied by it (Clarabel's gap tolerances are absolute at
    1e-10: an optimum of 2e-7, separable data under alpha 1e-8, needs scale ~ 1 / P*)."""
    n, d = X.shape
    c = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, float) / np.sum(weights)
    units = hinge_units(variant, y, K)
    n_w, n_b, n_u = K * d, K, len(units)
    n_v = n_w if l1_ratio > 0 else 0
    n_x = n_w + n_b + n_u + n_v
    rows, cols, vals, rhs = [], [], [], []

    def add(entries, bound):
        r = len(rhs)
        for col, val in entries:
            rows.append(r), cols.append(col), vals.append(val)
        rhs.append(bound)

    for u, (i, pieces) in enumerate(units):
        for a, beta in pieces:
            entries = [(n_w + n_b + u, -1.0)]
            for k in np.flatnonzero(a):
                entries += [(k * d + j, a[k] * X[i, j]) for j in range(d)] + [(n_w + k, a[k])]
            add(entries, -beta)
    for w in range(n_v):
        add([(w, 1.0), (n_w + n_b + n_u + w, -1.0)], 0.0)
        add([(w, -1.0), (n_w + n_b + n_u + w, -1.0)], 0.0)
    A = sp.csc_matrix((vals, (rows, cols)), shape=(len(rhs), n_x))
    P = scale * sp.diags(np.r_[np.full(n_w, alpha * (1 - l1_ratio)), np.zeros(n_x - n_w)]).tocsc()
    q = scale * np.r_[np.zeros(n_w + n_b), [c[i] for i, _ in units], np.full(n_v, alpha * l1_ratio)]
    return _solved(P, q, A, rhs) / scale


def _solved(P, q, A, rhs) -> float:
    """min 1/2 x^T P x + q^T x subject to A x <= rhs, by Clarabel to 1e-10: the optimal value."""
    import clarabel

    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-10
    solution = clarabel.DefaultSolver(sp.triu(P).tocsc(), q, A, np.array(rhs), [clarabel.NonnegativeConeT(len(rhs))],
                                      settings).solve()
    assert str(solution.status) == "Solved", solution.status
    return float(solution.obj_val)


def smooth_optimum(X: np.ndarray, y: np.ndarray, alpha: float, loss: str) -> float:
    """min over (w, b) of mean_i loss(x_i . w + b, y_i) + alpha/2 ||w||^2, for loss "logistic"
    (y in {0, 1}: log(1 + e^z) - y z) or "squared" ((z - y)^2), by Newton's method in float64 to a
    gradient of ~1e-15 (squared: one exact solve). Written from the textbook formulas, not derivtrain's."""
    n, d = X.shape
    A = np.c_[X, np.ones(n)]
    ridge = np.r_[np.full(d, alpha), 0.0]
    v = np.zeros(d + 1)

    def objective(v):
        z = A @ v
        data = np.logaddexp(0, z) - y * z if loss == "logistic" else (z - y) ** 2
        return data.mean() + alpha / 2 * v[:d] @ v[:d]

    for _ in range(100):
        z = A @ v
        if loss == "logistic":
            p = 0.5 * (1 + np.tanh(z / 2))
            g, D = A.T @ (p - y) / n, p * (1 - p)
        else:
            g, D = 2 * A.T @ (z - y) / n, np.full(n, 2.0)
        g = g + ridge * v
        H = (A * D[:, None]).T @ A / n + np.diag(ridge)
        step = np.linalg.solve(H, -g)
        t = 1.0
        while objective(v + t * step) > objective(v) + 1e-4 * t * (g @ step) and t > 1e-12:
            t /= 2
        v = v + t * step
        if np.abs(g).max() < 1e-15 or (t * np.abs(step)).max() < 1e-15:
            break
    return float(objective(v))


def squared_hinge_optimum(X: np.ndarray, y: np.ndarray, K: int, alpha: float, weights=None) -> float:
    """min over (W, b) of sum_i c_i sum_k max(0, 1 - s_ik (W x_i + b)_k)^2 + alpha/2 ||W||^2 (binary:
    s = 2y - 1; K > 1: one-vs-rest signs), c = weights / sum: a quadratic program in the slacks
    xi_ik >= 1 - s_ik z_ik, xi >= 0 (the objective sum c_i xi_ik^2), solved by Clarabel to 1e-10."""
    n, d = X.shape
    c = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, float) / np.sum(weights)
    signs = (2.0 * y - 1)[:, None] if K == 1 else np.where(np.eye(K)[y] > 0, 1.0, -1.0)
    n_w, n_x = K * d, K * d + K + n * K
    rows, cols, vals, rhs = [], [], [], []
    for i in range(n):
        for k in range(K):
            slack, r = n_w + K + i * K + k, len(rhs)
            # 1 - s (w_k . x_i + b_k) - xi <= 0
            for j in np.flatnonzero(X[i]):
                rows.append(r), cols.append(k * d + j), vals.append(-signs[i, k] * X[i, j])
            rows += [r, r]
            cols += [n_w + k, slack]
            vals += [-signs[i, k], -1.0]
            rhs.append(-1.0)
            rows.append(r + 1), cols.append(slack), vals.append(-1.0)  # -xi <= 0
            rhs.append(0.0)
    A = sp.csc_matrix((vals, (rows, cols)), shape=(len(rhs), n_x))
    P = sp.diags(np.r_[np.full(n_w, alpha), np.zeros(K), np.repeat(2 * c, K)]).tocsc()
    return _solved(P, np.zeros(n_x), A, rhs)
