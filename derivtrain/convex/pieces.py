"""A kinked elementwise loss as the interior-point method sees it: each score of each row is one
unit, a max over J affine pieces of that score,

    f(z_k, y_k) = max_j (a_j(y_k) z_k + b_j(y_k))

given by the loss's `affine_pieces(targets)` -> (slopes, intercepts), each (n, K, J). The
structure derivtrain/convex/kinked_units.py describes (values, linear_values, combine, curvature),
written once for any such loss: a unit touches one score, so the curvature is diagonal,

    D_k = sum_j omega_j a_j^2 - (sum_j omega_j a_j)^2 / sum_j omega_j.
"""
import torch


class AffinePieces:
    diagonal = True

    def __init__(self, loss):
        self.loss = loss

    def slopes(self, y):
        return self.loss.affine_pieces(y)[0].to(y.dtype)

    def values(self, z, y):
        slopes, intercepts = self.loss.affine_pieces(y.to(z.dtype).expand_as(z))
        return slopes * z[..., None] + intercepts

    def linear_values(self, dz, y):
        return self.slopes(y.to(dz.dtype).expand_as(dz)) * dz[..., None]

    def combine(self, w, y):
        return (w * self.slopes(y.to(w.dtype).expand(w.shape[:2]))).sum(dim=2)

    def curvature(self, omega, y):
        a = self.slopes(y.to(omega.dtype).expand(omega.shape[:2]))
        total = omega.sum(dim=2)
        return (omega * a.square()).sum(dim=2) - (omega * a).sum(dim=2).square() / total


def smoothed_max(values: torch.Tensor, tau: float) -> torch.Tensor:
    """The barrier-smoothed max over the last axis of (n, K, J) values -> (n, K)."""
    from derivtrain.convex.smoothing import barrier_max  # loaded when used

    n, K, J = values.shape
    return barrier_max(values.reshape(n * K, J), tau).reshape(n, K)
