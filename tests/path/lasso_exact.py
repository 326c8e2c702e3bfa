"""The elastic-net least-squares optimum from Clarabel (an interior-point conic solver), written from
the textbook objective, independently of derivtrain:

    min over (w, b)  mean_i (x_i . w + b - y_i)^2 + alpha (r ||w||_1 + (1 - r)/2 ||w||^2)

as a QP in x = (w, b, v) with v >= w, v >= -w standing for |w|.
"""
import numpy as np
import scipy.sparse as sp


def elastic_net_optimum(X: np.ndarray, y: np.ndarray, alpha: float, r: float, scale: float = 1.0) -> float:
    """`scale`: the objective is solved multiplied by it (Clarabel's tolerances are absolute; ~1 / P*)."""
    import clarabel

    n, d = X.shape
    A = np.c_[X, np.ones(n)]
    P = np.zeros((2 * d + 1, 2 * d + 1))
    P[:d + 1, :d + 1] = 2.0 / n * A.T @ A
    P[:d, :d] += alpha * (1 - r) * np.eye(d)
    q = np.r_[-2.0 / n * A.T @ y, np.full(d, alpha * r)] * scale
    P *= scale
    eye = np.eye(d)
    G = np.block([[eye, np.zeros((d, 1)), -eye], [-eye, np.zeros((d, 1)), -eye]])  # +-w - v <= 0
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-12
    solver = clarabel.DefaultSolver(sp.csc_matrix(np.triu(P)), q, sp.csc_matrix(G), np.zeros(2 * d),
                                    [clarabel.NonnegativeConeT(2 * d)], settings)
    x = np.asarray(solver.solve().x)
    w, b = x[:d], x[d]
    z = X @ w + b
    return float(np.mean((z - y) ** 2) + alpha * (r * np.abs(w).sum() + (1 - r) / 2 * w @ w))
