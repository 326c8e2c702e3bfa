"""The proximal Newton step of derivtrain/trainer/prox_newton.py: the smooth part's quadratic model
at T over a working set of features (derivtrain/trainer/working_set.py), the L1 term exact, solved
to rounding (derivtrain/trainer/l1_quadratic.py), and Levenberg-Marquardt's damping where the
model has directions without curvature."""
import numpy as np
import torch

from derivtrain.trainer.l1_quadratic import solve_l1_quadratic

FIRST_DAMPING, LAST_DAMPING = 1e-4, 1e8  # relative to the curvature's scale (curvature_scale)


class ProxModel:
    """H and g of the smooth part at T over each score column's working set; the L1 quadratic solved."""

    def __init__(self, problem, columns, reduce, c, d: int):
        self.problem, self.columns, self.reduce, self.c = problem, columns, reduce, c
        self._D, self._held = None, []
        self.damping, self._scale = 0.0, None  # Levenberg-Marquardt: H + damping I (damp_more)
        K = problem.linear.out_features
        # each weight's L1 coefficient (strength included); none on the bias
        lam = torch.as_tensor(problem.penalty.pieces()[1], dtype=torch.float64).expand(K, d).cpu().numpy()
        self.lam = np.concatenate([lam, np.zeros((K, 1))], axis=1)

    def damp_more(self) -> bool:
        """Raise the damping tenfold (from 1e-4 of H's scale); False once it is past any use. Where
        the smooth part has no curvature (Huber, the smooth hinge far from their bend; a bias no
        row's curvature holds) its quadratic model is unbounded along those directions: the undamped
        step is meaningless, and a damped one tends to a proximal gradient step as it grows."""
        self.damping = max(10.0 * self.damping, FIRST_DAMPING * self._scale)
        return self.damping <= LAST_DAMPING * self._scale

    def after(self, t: float) -> None:
        """A full step accepted: the model is trusted more (a tenth of the damping; none below 1e-12)."""
        if t == 1.0:
            self.damping = self.damping / 10 if self.damping > 1e-12 * self._scale else 0.0

    def _damped(self, blocks: list) -> list:
        if self._scale is None:
            self._scale = max(curvature_scale(H, self.columns.X, self.c, self.reduce) for H in blocks)
        if self.damping == 0.0 and all(curved(H, self._scale) for H in blocks):
            return blocks
        if self.damping == 0.0:  # directions without curvature (damp_more's docstring)
            self.damp_more()
        return [H + self.damping * np.eye(len(H)) for H in blocks]

    def hessians(self, D: torch.Tensor, sets: list) -> list:
        """Per score column k, [[X_S^T D_k X_S, X_S^T D_k], [D_k^T X_S, sum D_k]] over its working set
        S (the loss's part). While D is the same (a quadratic loss: once a fit) the blocks are kept,
        each over the union of the sets asked so far, and a later set within it is read from it."""
        if self._D is None or not torch.equal(D, self._D):
            self._D, self._held = D, [None] * D.shape[1]
        return [self._block(k, index) for k, index in enumerate(sets)]

    def _block(self, k: int, index) -> torch.Tensor:
        held = self._held[k]
        if held is not None and _within(index, held[0]):
            return _restricted(held, index)
        cols = index if held is None or index is None else np.union1d(index, held[0])
        exact = self.problem.loss.constant_curvature  # its one Hessian makes the step land on the optimum
        self._held[k] = (cols, self.reduce.all_sum(self.columns.block(cols, self._D[:, k], rounded=not exact)))
        return _restricted(self._held[k], index)

    def step(self, T, smooth, XtG: torch.Tensor, sets: list):
        """(direction, its scores' change (n, K), predicted decrease of the objective's model: <= 0).
        XtG: X^T G over every feature (every rank's rows). The score columns do not interact
        (prox_newton.suits), so H is block diagonal and the L1 separates: one small problem per
        column, over its working set (sets[k]; None: every feature); the direction is 0 off it."""
        penalty, W = self.problem.penalty, T[:, :-1]
        d = W.shape[1]
        ridge_gradient, ridge_curvature = penalty.smooth_part(W)  # the penalty's smooth part (L2: alpha(1-r))
        ridge_curvature = torch.as_tensor(ridge_curvature, dtype=T.dtype, device=T.device).expand(W.shape)
        g = torch.cat([XtG + ridge_gradient, self.reduce.all_sum(smooth.G.sum(dim=0))[:, None]], dim=1)
        takes = [np.arange(d + 1) if index is None else np.append(index, d) for index in sets]
        blocks = []
        for k, H in enumerate(self.hessians(smooth.D, sets)):
            block = H.clone()
            block.diagonal()[:-1] += ridge_curvature[k][torch.as_tensor(takes[k][:-1], device=T.device)]
            blocks.append(block.cpu().double().numpy())
        g_np, t_np = g.cpu().double().numpy(), T.cpu().double().numpy()
        direction, dz = torch.zeros_like(T), smooth.G.new_empty(smooth.G.shape)
        decrease = 0.0
        for k, Hk in enumerate(self._damped(blocks)):
            take, lam, t = takes[k], self.lam[k, takes[k]], t_np[k, takes[k]]
            U = solve_l1_quadratic(Hk, g_np[k, take] - Hk @ t, lam, t)
            step = torch.as_tensor(U - t, dtype=T.dtype, device=T.device)
            direction[k, torch.as_tensor(take, device=T.device)] = step
            dz[:, k] = self.columns.times(sets[k], step[:-1]) + step[-1]
            decrease += float(g_np[k, take] @ (U - t)) + float(lam @ (np.abs(U) - np.abs(t)))
        return direction, dz, decrease


def _within(index, cols) -> bool:
    if cols is None:
        return True
    return index is not None and bool(np.isin(index, cols, assume_unique=True).all())


def _restricted(held, index) -> torch.Tensor:
    """The held block's rows and columns of `index`'s features and the bias (its last)."""
    cols, H = held
    if index is None or (cols is not None and len(cols) == len(index)):
        return H  # the same set (index within cols, as many): no copy
    at = index if cols is None else np.searchsorted(cols, index)
    take = torch.as_tensor(np.append(at, len(H) - 1), device=H.device)
    return H.index_select(0, take).index_select(1, take)


def curved(H: np.ndarray, scale: float) -> bool:
    """Whether every coordinate has curvature: a zero diagonal entry is a direction along which the
    model is unbounded (a weight only rows on a loss's straight part touch; every weight, at the
    smooth hinge's start). Only the diagonal is read (a Cholesky test of H costs 70 ms at d = 2,000):
    coordinate descent itself copes with H merely singular (collinear columns), where its support's
    exact solve declines and more epochs go on (derivtrain/trainer/l1_quadratic.py)."""
    return bool(np.all(np.diag(H) > 1e-12 * scale))


def curvature_scale(H: np.ndarray, X, c, reduce) -> float:
    """H's largest diagonal entry, or where it has none (no row has curvature yet) the weighted mean
    of the rows' squared norms, [x | 1]: the curvature a loss of unit second derivative would give."""
    top = float(np.abs(np.diag(H)).max(initial=0.0))
    if top > 0.0:
        return top
    from derivtrain.trainer.precision_floor import row_norms

    mean_square = row_norms(X, c, reduce)[0] + float(reduce.all_sum(c.sum()))
    return max(mean_square, float(np.finfo(np.float64).tiny))
