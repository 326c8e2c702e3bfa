"""A least-squares point's certificate read off the Gram matrix, with a bound on its rounding; or
from the rows where that bound is too wide for optim.tol.

For the squared error, with r = X_a T - y and the centred dual point theta = 2 (r - rbar)
(derivtrain/path/gram_path.py), every number the certificate needs is a quadratic form in T of
the path's G = X_a^T C X_a, h = X_a^T C y and s = y^T C y (C the row weights, summing to 1):

    e = G T - h = X_a^T C r,   rbar = e_bias,   L = sum_i c_i r_i^2 = T.e - h.T + s,
    sum_i c_i theta_i^2 / 4 = L - rbar^2,   sum_i c_i theta_i y_i = 2 (h.T - s - rbar h_bias),
    V = -X^T C theta = -2 (e_w - rbar mean_c(x)),

O((d + 1)^2) a point where a pass over the rows is O(n d): on 100k x 50 a 30-point path's
certificates cost ~0.5 s from the rows, ~1 ms from G. The price is cancellation: L is computed
as a difference of numbers of size (rho.|T| + sqrt(s))^2 (rho_j = sqrt(G_jj), a column's root mean
square), each a sum over n rows, so the forms carry an error up to (n + 2d + 8) eps times that
(Higham, "Accuracy and Stability of Numerical Algorithms", 3.1, for the sums; Cauchy-Schwarz,
sum_i c_i |x_ij| |x_ik| <= rho_j rho_k, for the sums of absolute values it needs). Each bound
below enters the certificate: L's and the dual's loss parts' errors are added to the gap, and
V's to |V| where the dual point is scaled into the L1 box and where g*(s V) is evaluated (g* grows
with |V|, so the dual value stays a lower bound). Where the bound exceeds tol / 8 of the loss
(a fit whose residuals are ~1e-6 of the targets), the point is certified from its rows instead.
"""
from dataclasses import dataclass, field

import numpy as np

from derivtrain.path.screening import rescaled_duals

_EPS = float(np.finfo(np.float64).eps)


@dataclass
class Residuals:
    """What the certificates of P weights T (P, d + 1) need at any strengths: each (P,), V (P, d)."""
    loss: np.ndarray  # sum_i c_i (z_i - y_i)^2
    quadratic: np.ndarray  # sum_i c_i theta_i^2 / 4 (theta centred): the conjugate's part in s^2
    linear: np.ndarray  # sum_i c_i theta_i y_i: its part in s
    V: np.ndarray  # -X^T (c theta)
    rounding: np.ndarray  # a bound on the rounding of the loss and its conjugate (certificate.py's rounding_error)
    l1_norm: np.ndarray
    l2_square: np.ndarray
    V_error: np.ndarray = field(default_factory=lambda: np.zeros(1))  # bounds on |V's rounding| (Gram)
    quadratic_error: np.ndarray = field(default_factory=lambda: np.zeros(1))
    linear_error: np.ndarray = field(default_factory=lambda: np.zeros(1))

    def bound(self, l1: np.ndarray, l2: np.ndarray) -> tuple:
        """(P, s, D(s theta), rounding) at the strengths (l1, l2), each (P,): no pass over the rows."""
        primal = self.loss + l1 * self.l1_norm + l2 / 2 * self.l2_square
        scale, dual = rescaled_duals(np.abs(self.V) + self.V_error, self.quadratic, self.linear, l1, l2)
        rounding = self.rounding + scale * scale * self.quadratic_error + scale * self.linear_error
        return primal, scale, dual, rounding + 8 * _EPS * (primal - self.loss)


def from_rows(T: np.ndarray, Xt: np.ndarray, y: np.ndarray, c: np.ndarray) -> Residuals:
    """One pass over the rows (Xt = [X | 1]^T, by column) at the P weights T."""
    Z = T @ Xt
    R = Z - y
    CR = R * c
    theta = 2 * (R - CR.sum(axis=1, keepdims=True))
    ctheta = theta * c
    # |l_i| + |l'_i| (1 + |z_i| + |y_i|), l = r^2: certificate.py's rounding_error, term by term
    size = R * R + 2 * np.abs(R) * (1 + np.abs(Z) + np.abs(y))
    W = T[:, :-1]
    zeros = np.zeros(len(T))
    return Residuals((CR * R).sum(axis=1), (ctheta * theta).sum(axis=1) / 4, ctheta @ y, -(ctheta @ Xt[:-1].T),
                     8 * _EPS * (size @ c), np.abs(W).sum(axis=1), (W * W).sum(axis=1), np.zeros_like(W), zeros,
                     zeros)


def from_gram(T: np.ndarray, G: np.ndarray, h: np.ndarray, s: float, n: int) -> Residuals:
    """The same from G, h, s (module docstring), with the bounds on their rounding."""
    p = G.shape[0]
    rho = np.sqrt(np.maximum(np.diag(G), 0.0)) * (1 + 1e-12)
    root_s = np.sqrt(max(s, 0.0)) * (1 + 1e-12)
    size = np.abs(T) @ rho  # rho . |T|
    k = size + root_s
    e = T @ G - h  # G is symmetric
    e_error = (n + p + 4) * _EPS * rho * k[:, None]
    mean_bias, bias_error = e[:, -1], e_error[:, -1]
    Th = T @ h
    loss = (T * e).sum(axis=1) - Th + s
    loss_error = (n + 2 * p + 8) * _EPS * k * k
    quadratic = loss - mean_bias ** 2
    quadratic_error = loss_error + 2 * np.abs(mean_bias) * bias_error + bias_error ** 2 + 4 * _EPS * (
        np.abs(loss) + mean_bias ** 2)
    h_bias, sums = h[-1], (n + 2) * _EPS
    linear = 2 * (Th - s - mean_bias * h_bias)
    linear_error = 2 * ((n + p + 4) * _EPS * root_s * size + sums * s + bias_error * (abs(h_bias) + sums * root_s)
                        + np.abs(mean_bias) * sums * root_s + 4 * _EPS * (np.abs(Th) + s + np.abs(mean_bias * h_bias)))
    means = G[-1, :-1]  # mean_c of each column: the bias's row
    V = -2 * (e[:, :-1] - mean_bias[:, None] * means)
    V_error = 2 * (e_error[:, :-1] + bias_error[:, None] * (np.abs(means) + sums * rho[:-1])
                   + np.abs(mean_bias)[:, None] * sums * rho[:-1]
                   + 3 * _EPS * (np.abs(e[:, :-1]) + np.abs(mean_bias[:, None] * means)))
    W = T[:, :-1]
    return Residuals(loss, quadratic, linear, V, loss_error, np.abs(W).sum(axis=1), (W * W).sum(axis=1), V_error,
                     quadratic_error, linear_error)
