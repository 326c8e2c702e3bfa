"""Each convex loss of the scores, seen from the dual: its value, a smoothed twice-differentiable
version, and its convex conjugate.

Scores z are (n, K) here (K = 1 for binary and regression problems). For a row with target y:

    loss                      l(z)                                 theta = dl/dz           l*(theta)
    hinge (binary, ovr)       sum_k max(0, 1 - s_k z_k)            -s_k a_k, a in [0, 1]     sum_k s_k theta_k
    squared hinge (ovr)       sum_k max(0, 1 - s_k z_k)^2          -s_k a_k, a >= 0          sum_k (a_k^2/4 - a_k)
    crammer_singer            max_k (z_k + [k != y]) - z_y         p - e_y, p in simplex      theta_y
    weston_watkins            sum_{k != y} max(0, 1 + z_k - z_y)   rival k: a_k in [0, 1]     theta_y
    logistic (one score)      log(1 + e^z) - y z                   p - y, p in [0, 1]        p log p + (1-p) log(1-p)
    multinomial               logsumexp(z) - z_y                   p - e_y, p in simplex      sum_k p_k log p_k
    squared error             (z - y)^2                            2 (z - y)                 theta^2/4 + theta y
    poisson (log link)        e^z - y z                            e^z - y                   q log q - q, q = theta + y

The kinked ones (the hinge family) are maxima of affine pieces (`pieces()`, what the
interior-point solver works with); `smoothed(z, y, tau)` rounds their kinks with a log barrier
(derivtrain/convex/smoothing.py), whose derivative is a dual point of any weights strictly
inside the conjugate's domain. For the smooth ones both are the loss itself. Every domain above
is convex and contains theta = 0, so scaling a row's theta toward 0 (derivtrain/convex/bias.py)
keeps it feasible.
"""
import torch
from torch.nn import functional as F

from derivtrain.convex.datafit import ConvexDatafit
from derivtrain.convex.kinked_units import CrammerSingerPieces, SignedPieces, WestonWatkinsPieces
from derivtrain.convex.smoothing import barrier_hinge, barrier_hinge_slope, barrier_max


class ScoreLoss(ConvexDatafit):
    """The built-in losses' datafits (derivtrain/convex/datafit.py's contract), closed forms."""


class SignedHinge(ScoreLoss):
    """Binary or one-vs-rest hinge; targets are signs, (n,) or (n, K)."""

    nonsmooth, conjugate_linear = True, True

    def classes(self, y):
        return (y[:, 0] > 0).long() if y.shape[1] == 1 else y.argmax(dim=1)

    def values(self, z, y):
        return torch.relu(1 - y * z).sum(dim=1)

    def smoothed(self, z, y, tau):
        return barrier_hinge(1 - y * z, tau).sum(dim=1)

    def smoothed_slope(self, z, y, tau):
        """d smoothed / dz in closed form: what autograd through `smoothed` gives, bit for bit, in
        a third of the passes over the rows (the certificate takes one per barrier width)."""
        return -y * barrier_hinge_slope(1 - y * z, tau)

    def pieces(self):
        return SignedPieces()

    def prepare(self, targets):
        return targets.reshape(len(targets), -1).double()

    def conjugate(self, theta, y):
        return (y * theta).sum(dim=1)


class SignedSquaredHinge(SignedHinge):
    nonsmooth = False

    def values(self, z, y):
        return torch.relu(1 - y * z).square().sum(dim=1)

    def smoothed(self, z, y, tau):
        return self.values(z, y)

    smoothed_slope = None  # smooth: the derivative of `values`, by autograd

    def pieces(self):
        return None

    def conjugate(self, theta, y):
        a = -y * theta
        return (a.square() / 4 - a).sum(dim=1)


class CrammerSinger(ScoreLoss):
    """max_k (z_k + [k != y]) - z_y: one barrier over the K pieces of the max."""

    nonsmooth, coupled, conjugate_linear = True, True, True

    def _margins(self, z, y):
        return z + 1 - F.one_hot(y, z.shape[1]).to(z.dtype)

    def values(self, z, y):
        return self._margins(z, y).amax(dim=1) - z.gather(1, y[:, None]).squeeze(1)

    def smoothed(self, z, y, tau):
        return barrier_max(self._margins(z, y), tau) - z.gather(1, y[:, None]).squeeze(1)

    def pieces(self):
        return CrammerSingerPieces()

    def conjugate(self, theta, y):
        return theta.gather(1, y[:, None]).squeeze(1)


class WestonWatkins(CrammerSinger):
    """sum_{k != y} max(0, 1 + z_k - z_y): one barrier-smoothed hinge per rival."""

    def _rival_margins(self, z, y):
        true_score = z.gather(1, y[:, None])
        mask = 1 - F.one_hot(y, z.shape[1]).to(z.dtype)
        return (1 + z - true_score), mask

    def values(self, z, y):
        u, mask = self._rival_margins(z, y)
        return (torch.relu(u) * mask).sum(dim=1)

    def smoothed(self, z, y, tau):
        u, mask = self._rival_margins(z, y)
        return (barrier_hinge(u, tau) * mask).sum(dim=1)

    def pieces(self):
        return WestonWatkinsPieces()


class BinaryLogistic(ScoreLoss):
    """Targets are 0/1 (one score: sigmoid)."""

    def classes(self, y):
        return y[:, 0].long()

    def values(self, z, y):
        return F.binary_cross_entropy_with_logits(z, y, reduction="none").sum(dim=1)

    def conjugate(self, theta, y):
        p = (theta + y).clamp(0.0, 1.0)
        return (torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p)).sum(dim=1)


class Multinomial(ScoreLoss):
    coupled = True

    def values(self, z, y):
        return F.cross_entropy(z, y, reduction="none")

    def conjugate(self, theta, y):
        p = (theta + F.one_hot(y, theta.shape[1]).to(theta.dtype)).clamp_min(0.0)
        return torch.special.xlogy(p, p).sum(dim=1)


class SquaredError(ScoreLoss):
    def values(self, z, y):
        return (z - y).square().sum(dim=1)

    def conjugate(self, theta, y):
        return (theta.square() / 4 + theta * y).sum(dim=1)


class PoissonLogLink(ScoreLoss):
    def values(self, z, y):
        return (z.exp() - y * z).sum(dim=1)

    def conjugate(self, theta, y):
        q = (theta + y).clamp_min(0.0)
        return (torch.special.xlogy(q, q) - q).sum(dim=1)
