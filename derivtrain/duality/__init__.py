"""Certificates of optimality for linear models, from the Fenchel dual of the objective.

A linear model's regularized objective, on training rows x_i with weights c_i (summing to 1:
the mean, or scikit-learn's sample/class weights normalized), is

    P(W, b) = sum_i c_i l_i(z_i) + g(W),        z_i = W x_i + b   (K scores per row)

with a convex loss l_i (the row's target is folded in) and a convex penalty g on the weights,
the bias unpenalized. Writing each loss through its convex conjugate, l_i(z) = max_t t.z - l_i*(t),
and minimizing over W and b gives the dual: for any dual variables theta_i with

    sum_i c_i theta_i = 0          (what minimizing over the unpenalized bias requires)

    D(theta) = -sum_i c_i l_i*(theta_i) - g*(-sum_i c_i theta_i x_i^T)   <=   min P   <=   P(W, b)

so P(W, b) - D(theta) bounds how far the current weights are from the optimum, and
(P - D) / |P| bounds the relative gap (P - P*) / |P|. The bound is exact at the optimum with the
optimal theta, which for a smooth loss is its derivative at the optimal scores. We take theta from
the derivative of the loss (smoothed at the kinks of the hinge family: derivtrain/duality/smoothing.py),
scale rows toward 0 to meet the bias constraint (derivtrain/duality/bias.py) and, for the L1
penalty, to make g* finite (derivtrain/duality/penalties.py).

    certify(objective, X, targets) -> Certificate(primal, dual, relative_gap) or None
    has_dual(objective)            -> whether certify can bound this objective

The certified solver (derivtrain/train/certified.py) minimizes smoothed objectives with Newton's
method and stops when this bound is at most optim.tol.
"""
from derivtrain.duality.certificate import Certificate, certify, has_dual, linear_problem, supports

__all__ = ["Certificate", "certify", "has_dual", "linear_problem", "supports"]
