"""Exact optima of linear models under the plugin losses of README's walk-through, by Clarabel.

Written from the textbook definitions, independently of derivtrain: each loss of a score z against
its target y as a small quadratic program (an infimal convolution for the rounded ones), so the
whole fit is one QP in (w, b, per-row variables), solved to 1e-10:

    squared(z - y)      = r^2,  r = z - y                                      an equality, two rows
    pinball_tau(y - z)  = max(tau (y - z), (tau - 1)(y - z))                  t >= both pieces
    huber_delta(z - y)  = min_q  q^2 / 2 + delta |z - y - q|                  s >= +-(z - y - q)
    smooth_hinge_h(yz)  = min_{0 <= q <= h}  q^2 / (2h) + max(1 - yz - q, 0)  s >= 0, s >= 1 - yz - q
    penalty             = l2 / 2 ||w||^2 + sum_j l1_j v_j,                    v >= +-w
"""
import numpy as np
import scipy.sparse as sp


def optimum(X, y, loss: str, param: float, l2: float = 0.0, l1=None) -> float:
    """min over (w, b) of mean_i loss(x_i . w + b, y_i) + l2/2 ||w||^2 + sum_j l1_j |w_j|."""
    import clarabel

    n, d = X.shape
    l1 = np.zeros(d) if l1 is None else np.broadcast_to(np.asarray(l1, float), (d,))
    n_aux = 1 if loss == "pinball" else 2  # per row: t | (q, s)
    n_x = d + 1 + n_aux * n + d
    P, q = np.zeros(n_x), np.zeros(n_x)
    P[:d] = l2
    q[d + 1 + n_aux * n:] = l1
    rows = []  # (dict col -> coefficient, rhs): sum coef x <= rhs

    def z_terms(i, a):
        return {**{j: a * X[i, j] for j in range(d)}, d: a}

    for i in range(n):
        first = d + 1 + n_aux * i
        if loss == "pinball":
            q[first] = 1 / n
            for a, beta in ((-param, param * y[i]), (1 - param, (param - 1) * y[i])):
                rows.append(({**z_terms(i, a), first: -1.0}, -beta))
            continue
        Q, S = first, first + 1
        if loss == "squared":
            P[Q] = 2 / n
            rows += [({**z_terms(i, -1.0), Q: 1.0}, -y[i]), ({**z_terms(i, 1.0), Q: -1.0}, y[i])]
        elif loss == "huber":
            P[Q], q[S] = 1 / n, param / n
            rows.append(({**z_terms(i, 1.0), Q: -1.0, S: -1.0}, y[i]))
            rows.append(({**z_terms(i, -1.0), Q: 1.0, S: -1.0}, -y[i]))
        else:  # smooth hinge, y in {-1, +1}
            P[Q], q[S] = 1 / (n * param), 1 / n
            rows += [({S: -1.0}, 0.0), ({**z_terms(i, -y[i]), Q: -1.0, S: -1.0}, -1.0),
                     ({Q: -1.0}, 0.0), ({Q: 1.0}, param)]
    for j in range(d):
        v = d + 1 + n_aux * n + j
        rows += [({j: 1.0, v: -1.0}, 0.0), ({j: -1.0, v: -1.0}, 0.0)]
    A = sp.lil_matrix((len(rows), n_x))
    for r, (entries, _) in enumerate(rows):
        for col, value in entries.items():
            A[r, col] = value
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-11
    solution = clarabel.DefaultSolver(sp.diags(P).tocsc(), q, A.tocsc(), np.array([b for _, b in rows]),
                                      [clarabel.NonnegativeConeT(len(rows))], settings).solve()
    assert str(solution.status) == "Solved", solution.status
    return float(solution.obj_val)
