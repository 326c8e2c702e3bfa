"""A primal-dual interior-point method for linear models with kinked losses or an L1 penalty.

The problem in epigraph form: each unit u of the loss (derivtrain/convex/kinked_units.py) gets a
variable xi_u >= every affine piece of it, and each weight under L1 gets v >= |w|:

    min  sum_u c_u xi_u  +  a_r sum v  +  smooth(T)
    s.t. s_uj = xi_u - (A_uj . z_i + beta_uj) >= 0,        slacks of the loss's pieces
         s_w  = v - (+-w) >= 0,                            slacks of the L1 pieces

with smooth(T) the L2 part of the penalty and, for a smooth loss under L1, the loss itself. The
multipliers lambda >= 0 of the pieces sum to c_u per unit; lambda / c_i is the row's dual point,
so every iterate carries a certificate (derivtrain/convex).

Each iteration is Mehrotra's predictor-corrector: a Newton step on the optimality conditions with
lambda s = 0 (affine), which measures how far the complementarity lambda s can fall, then one with
lambda s = sigma mu - (affine second-order term), sigma = (mu_affine / mu)^3. Eliminating the
epigraph variables, slacks and multipliers per unit leaves, as the only linear system, the
familiar H dT = -r with H = X^T D X (+ diagonal) and D_i the per-row curvature of the pieces
(derivtrain/trainer/linear_system.py): the same cost as a Newton step, factored once for both
predictor and corrector. Typically 15-30 iterations whatever the data's conditioning.

Under trainer=ddp the loss's units are this rank's rows (their slacks and multipliers stay
here); `reduce` sums their complementarity and takes the least step length over every rank,
while the L1 units (one per weight) are the same on every rank and are not summed.
"""
from dataclasses import dataclass

import torch

from derivtrain.convex.kinked_units import sum_pieces

_TO_BOUNDARY = 0.995  # step to this fraction of the way to the nearest boundary of s >= 0, lambda >= 0
# xi starts this far above its unit's highest piece. Measured (iterations to tol 1e-4, start
# 1 -> 3): breast_cancer SVM 13 -> 11, wine crammer_singer 15 -> 12, weston_watkins 13 -> 11, digits
# one-vs-rest 23 -> 21, L1 logistic 13 -> 11, 100k x 50 SVM 17 -> 16; 0.3 and 10 or more were worse
_START_SLACK = 3.0


@dataclass
class Units:
    """One family of epigraph units: pieces (structure), costs c (per unit), xi, multipliers, slacks."""

    pieces: object
    cost: torch.Tensor  # broadcastable to xi's shape: what the unit's multipliers sum to
    xi: torch.Tensor
    lam: torch.Tensor  # (..., J)
    target: object = None  # what the pieces are applied to (targets y for the loss; None for L1)

    def slacks(self, values: torch.Tensor) -> torch.Tensor:
        return self.xi[..., None] - values

    def eliminate(self, s, complementarity):
        """Per-unit elimination for a right-hand side lambda s = complementarity (None: 0, the
        predictor): the weights over pieces whose combination enters the score gradient, and what
        `recover` needs. rho = sum_j complementarity_j / s_j - cost is the unit's residual (the
        multipliers' own sum cancels out of it)."""
        omega = self.lam / s
        Omega = sum_pieces(omega)
        q = None if complementarity is None else complementarity / s
        rho = -self.cost if q is None else sum_pieces(q) - self.cost
        shift = omega * (rho / Omega)[..., None]
        weights = -shift if q is None else q - shift
        return omega, Omega, rho, weights, q

    def recover(self, s, q, omega, Omega, rho, linear):
        """(d xi, d s, d lambda) from the step's change of the pieces' linear parts."""
        dxi = (rho + sum_pieces(omega * linear)) / Omega
        ds = dxi[..., None] - linear
        dlam = -self.lam - omega * ds if q is None else q - self.lam - omega * ds
        return dxi, ds, dlam


def start_units(pieces, values: torch.Tensor, cost: torch.Tensor, target=None) -> Units:
    """Slacks of _START_SLACK above the highest piece, multipliers splitting each unit's cost evenly."""
    J = values.shape[-1]
    xi = values.amax(dim=-1) + _START_SLACK
    lam = (cost[..., None] / J).expand(values.shape).clone()
    return Units(pieces, cost, xi, lam, target)


def steepest_ratio(current: torch.Tensor, change: torch.Tensor) -> torch.Tensor:
    """max over elements of -change / current (<= 0 when nothing falls): current + t change stays >= 0
    for every t <= 1 / that. One 0-d tensor, so a step's checks need one .item() in all."""
    if not current.numel():
        return current.new_zeros(())
    # current > 0 except where a unit has no weight (lambda = 0, a row of sample weight 0): there
    # change / current is 0 / 0, and NaN counts as no constraint
    return torch.nan_to_num(change / current, nan=0.0).amin().neg()


def penalty_units(W: torch.Tensor, kinked) -> Units:
    """The penalty's kinked part (derivtrain/convex/penalty.py: `pieces()` -> (structure, cost)),
    one unit per weight: |w| = max(w, -w) for L1, with its per-weight cost."""
    pieces, cost = kinked
    cost = torch.as_tensor(cost, dtype=W.dtype, device=W.device).expand(W.shape).clone()
    return start_units(pieces, pieces.values(W), cost)


def piece_count(families, reduce) -> int:
    """How many pieces the families have (the loss's summed over every rank's rows)."""
    return sum(int(reduce(u, torch.tensor(u.lam.numel(), device=u.lam.device))) for u in families)


class InteriorPoint:
    """The iterates (T, the units' xi and multipliers) and one predictor-corrector step."""

    def __init__(self, problem, system, y, c, T, reduce=None):
        self.problem, self.system, self.y, self.c, self.T = problem, system, y, c, T
        self.ranks = reduce
        self.pieces = problem.loss.pieces()  # None: a smooth loss (then the penalty is what is kinked)
        z = system.scores(T)
        self.loss_units = None
        if self.pieces is not None:
            values = self.pieces.values(z, y)
            self.loss_units = start_units(self.pieces, values, c[:, None].expand(values.shape[:2]), target=y)
        kinked = problem.penalty.pieces()
        self.l1 = penalty_units(T[:, :-1], kinked) if kinked is not None else None
        self.penalty = problem.penalty
        self._pieces = None

    def state(self) -> dict:
        """What the next step needs besides T (saved apart): each family's xi and multipliers (the
        barrier parameter mu is their mean complementarity, recomputed from them). Under
        trainer=ddp the loss's units are this rank's rows, which rank 0's checkpoint cannot hold:
        a resumed run starts them again from T (it converges, not bit for bit)."""
        shared = self.ranks is None or getattr(self.ranks, "world_size", 1) == 1
        loss = [self.loss_units.xi, self.loss_units.lam] if self.loss_units is not None and shared else None
        return {"loss_units": loss, "l1_units": [self.l1.xi, self.l1.lam] if self.l1 is not None else None}

    def restore(self, saved: dict, check) -> None:
        """The families' xi and multipliers from `state()`; check(name, saved, like) checks each tensor."""
        for name, units in (("loss_units", self.loss_units), ("l1_units", self.l1)):
            pair = saved.get(name)
            if units is None or pair is None:
                continue
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                pair = (pair, None)
            units.xi = check(f"{name}.xi", pair[0], units.xi)
            units.lam = check(f"{name}.lam", pair[1], units.lam)

    def _reduce(self, units, value: torch.Tensor, op: str = "sum") -> torch.Tensor:
        """A sum (or max) over the loss's units across ranks; the L1 units are everyone's."""
        if self.ranks is None or units is self.l1:
            return value
        return self.ranks.all_sum(value) if op == "sum" else self.ranks.all_max(value)

    def families(self, z):
        """[(units, slacks)] for the loss's pieces and the L1 pieces."""
        out = []
        if self.loss_units is not None:
            out.append((self.loss_units, self.loss_units.slacks(self.pieces.values(z, self.y))))
        if self.l1 is not None:
            out.append((self.l1, self.l1.slacks(self.l1.pieces.values(self.T[:, :-1]))))
        return out

    def observe(self, z) -> float:
        """Take the iterate's scores; returns sum lambda s over all pieces (every rank's rows): the
        duality gap of the epigraph problem once its dual residual is 0 (an estimate, not a
        certificate, before that)."""
        self._families = self.families(z)
        self._complementarity = sum(self._reduce(units, (units.lam * s).sum()) for units, s in self._families).item()
        return self._complementarity

    def dual_point(self, smooth) -> torch.Tensor:
        """Each row's dual variable theta_i: the pieces' multipliers / c_i, or the smooth loss's derivative."""
        if self.loss_units is None:
            return smooth.theta
        return self.pieces.combine(self.loss_units.lam, self.y) / self.c[:, None]

    def step(self, smooth) -> float:
        """One predictor-corrector step from the observed iterate; returns its length. `smooth`: the
        smooth loss's gradient and curvature in scores (SmoothPart), or None."""
        families = self._families
        if self._pieces is None:  # the number of pieces never changes: counted (and summed over ranks) once
            self._pieces = piece_count([u for u, _ in families], self._reduce)
        mu = self._complementarity / self._pieces  # observe() summed lambda s at this iterate
        D, extra, gradient = self._curvature(families, smooth)
        factor = self.system.factor(D, extra)
        predictor = self._direction(factor, families, [None] * len(families), gradient)  # lambda s -> 0
        t_aff = self._step_length(families, predictor, 1.0)
        mu_aff = sum(self._reduce(u, ((u.lam + t_aff * dl) * (s + t_aff * ds)).sum()) for (u, s), (_, ds, dl) in
                     zip(families, predictor[1])).item() / self._pieces
        sigma = (mu_aff / mu) ** 3
        targets = [sigma * mu - ds * dl for _, ds, dl in predictor[1]]
        dT, changes = self._direction(factor, families, targets, gradient)
        t = self._step_length(families, (dT, changes), _TO_BOUNDARY)
        self.T = self.T + t * dT
        for (units, _), (dxi, _, dlam) in zip(families, changes):
            units.xi = units.xi + t * dxi
            units.lam = units.lam + t * dlam
        return t

    def _curvature(self, families, smooth):
        gradient = torch.zeros_like(self.T)
        gradient[:, :-1], extra = self.penalty.smooth_part(self.T[:, :-1])  # its smooth part (L2)
        D = None
        if smooth is not None:
            gradient += self.system.backproject(smooth.G)
            D = smooth.D
        for units, s in families:
            omega = units.lam / s
            curvature = units.pieces.curvature(omega, units.target)
            if units is self.l1:
                extra = extra + curvature
            else:
                D = curvature if D is None else _add(D, curvature)
        return D, extra, gradient

    def _direction(self, factor, families, complementarity, gradient):
        r = gradient.clone()
        eliminated = []
        for (units, s), comp in zip(families, complementarity):
            omega, Omega, rho, weights, q = units.eliminate(s, comp)
            eliminated.append((q, omega, Omega, rho))
            combined = units.pieces.combine(weights, units.target)
            if units is self.l1:
                r[:, :-1] += combined
            else:
                r += self.system.backproject(combined)
        dT = -factor.solve(r)
        changes = []
        for (units, s), parts in zip(families, eliminated):
            linear = (units.pieces.linear_values(dT[:, :-1]) if units is self.l1
                      else units.pieces.linear_values(self.system.scores(dT), units.target))
            changes.append(units.recover(s, *parts, linear))
        return dT, changes

    def _step_length(self, families, direction, fraction: float) -> float:
        """The step along `direction` that keeps every slack and multiplier >= 0: 1 when the full step
        does, else `fraction` of the way to the nearest boundary (the largest over every rank)."""
        _, changes = direction
        steepest = [self._reduce(units, torch.maximum(steepest_ratio(s, ds), steepest_ratio(units.lam, dlam)), "max")
                    for (units, s), (_, ds, dlam) in zip(families, changes)]
        ratio = torch.stack(steepest).amax().item() if len(steepest) > 1 else steepest[0].item()
        return 1.0 if ratio <= 1.0 else fraction / ratio


def _add(D1: torch.Tensor, D2: torch.Tensor) -> torch.Tensor:
    """Sum of per-row curvatures, diagonal (n, K) or full (n, K, K)."""
    if D1.dim() == D2.dim():
        return D1 + D2
    full, diag = (D1, D2) if D1.dim() == 3 else (D2, D1)
    return full + torch.diag_embed(diag)
