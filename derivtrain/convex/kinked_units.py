"""The kinked losses as maxima of affine pieces: what the interior-point solver works with.

A hinge-family loss is a sum over "units" of a max of affine functions of the row's scores z:

    l_i(z) = sum_m max_j (A_mj . z + beta_mj)

    binary, one-vs-rest   unit m per score column: pieces {0, 1 - s_m z_m}
    crammer_singer        one unit: pieces z_k + [k != y] - z_y for every class k
    weston_watkins        unit m per rival class: pieces {0, 1 + z_m - z_y} (the true class: {0, 0})
    L1 penalty            unit per weight: pieces {w, -w}

Each structure says the pieces' values (`values`), the combination sum_mj w_mj A_mj of weights
over pieces (`combine`: how multipliers turn into a score gradient) and the per-row curvature that
eliminating a unit's epigraph variable leaves (`curvature`):

    D = sum_m ( sum_j omega_mj A_mj A_mj^T - abar_m abar_m^T / Omega_m ),
    abar_m = sum_j omega_mj A_mj,   Omega_m = sum_j omega_mj

a K x K matrix per row (diagonal where the units touch one column each).
"""
import functools

import torch
from torch.nn import functional as F


def sum_pieces(x: torch.Tensor) -> torch.Tensor:
    """x summed over its last axis (a unit's few pieces), as a product with a vector of ones: on CPU,
    torch's sum over a last axis of 2 is ~4x slower than that product (15 vs 4 us for 455 x 2), and
    the interior-point method does it several times an iteration."""
    return x @ _ones(x.shape[-1], x.dtype, x.device)


@functools.lru_cache(maxsize=16)
def _ones(size: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.ones(size, dtype=dtype, device=device)


class SignedPieces:
    """Binary and one-vs-rest hinge: unit m = column m, pieces {0, 1 - s_m z_m}; y: signs (n, K)."""

    diagonal = True

    def values(self, z, y):
        return torch.stack([torch.zeros_like(z), 1 - y * z], dim=2)

    def linear_values(self, dz, y):
        return torch.stack([torch.zeros_like(dz), -y * dz], dim=2)

    def combine(self, w, y):
        return -y * w[:, :, 1]

    def curvature(self, omega, y):
        return omega[:, :, 0] * omega[:, :, 1] / sum_pieces(omega)


class CrammerSingerPieces:
    """One unit per row; piece k: z_k + [k != y] - z_y; y: class indices (n,)."""

    diagonal = False

    def values(self, z, y):
        margins = z + 1 - F.one_hot(y, z.shape[1]).to(z.dtype) - z.gather(1, y[:, None])
        return margins[:, None, :]

    def linear_values(self, dz, y):
        return (dz - dz.gather(1, y[:, None]))[:, None, :]

    def combine(self, w, y):
        w = w[:, 0, :]
        return w - F.one_hot(y, w.shape[1]).to(w.dtype) * w.sum(dim=1, keepdim=True)

    def curvature(self, omega, y):
        omega = omega[:, 0, :]
        total = omega.sum(dim=1)
        onehot = F.one_hot(y, omega.shape[1]).to(omega.dtype)
        abar = omega - onehot * total[:, None]
        # sum_j omega_j (e_j - e_y)(e_j - e_y)^T = diag(omega) - omega e_y^T - e_y omega^T + Omega e_y e_y^T
        D = torch.diag_embed(omega) - omega[:, :, None] * onehot[:, None, :] - onehot[:, :, None] * omega[:, None, :]
        D = D + total[:, None, None] * onehot[:, :, None] * onehot[:, None, :]
        return D - abar[:, :, None] * abar[:, None, :] / total[:, None, None]


class WestonWatkinsPieces:
    """Unit m per class: pieces {0, 1 + z_m - z_y} for rivals, {0, 0} for the true class."""

    diagonal = False

    def _rival(self, z, y):
        return 1 - F.one_hot(y, z.shape[1]).to(z.dtype)

    def values(self, z, y):
        rival = self._rival(z, y)
        return torch.stack([torch.zeros_like(z), rival * (1 + z - z.gather(1, y[:, None]))], dim=2)

    def linear_values(self, dz, y):
        rival = self._rival(dz, y)
        return torch.stack([torch.zeros_like(dz), rival * (dz - dz.gather(1, y[:, None]))], dim=2)

    def combine(self, w, y):
        a = w[:, :, 1] * self._rival(w[:, :, 1], y)
        return a - F.one_hot(y, a.shape[1]).to(a.dtype) * a.sum(dim=1, keepdim=True)

    def curvature(self, omega, y):
        rival = self._rival(omega[:, :, 0], y)
        delta = rival * omega[:, :, 0] * omega[:, :, 1] / sum_pieces(omega)
        onehot = 1 - rival
        D = torch.diag_embed(delta) - delta[:, :, None] * onehot[:, None, :] - onehot[:, :, None] * delta[:, None, :]
        return D + delta.sum(dim=1)[:, None, None] * onehot[:, :, None] * onehot[:, None, :]


class AbsolutePieces:
    """The L1 penalty's units, one per weight: pieces {w, -w} (applied to W itself, elementwise)."""

    diagonal = True

    def values(self, W, _=None):
        return torch.stack([W, -W], dim=-1)

    def linear_values(self, dW, _=None):
        return torch.stack([dW, -dW], dim=-1)

    def combine(self, w, _=None):
        return w[..., 0] - w[..., 1]

    def curvature(self, omega, _=None):
        return 4 * omega[..., 0] * omega[..., 1] / sum_pieces(omega)
