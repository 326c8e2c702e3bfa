"""backtrack(): the Armijo backtracking line search every second-order solver here takes.

From the full step t = 1 (Newton's: exact on a quadratic, so near the optimum it is accepted at
once and convergence stays quadratic), halve t until the objective has fallen by at least
ARMIJO times the decrease its linear model predicts, t * slope. Far from the optimum this keeps
every step a descent step whatever the curvature model got wrong.

One search for all of them: autograd Newton (trainer/newton.py: it moves the parameters), the
linear models' Newton (trainer/linear_newton.py: the scores move as z + t dz, O(n) a trial),
proximal Newton (trainer/prox_newton.py: `slope` is its model's predicted decrease, the L1 term
included) and the regularization path (path/smooth_path.py). Each says how many halvings it
allows: past 2^-40 or so a step is below the iterate's own rounding, and searching further only
spends passes.
"""
from typing import Callable

ARMIJO = 1e-4  # sufficient decrease: accept a step that achieves this fraction of the predicted one


def backtrack(value_at: Callable[[float], float], f0: float, slope: float, max_halvings: int) -> float:
    """The first step t in 1, 1/2, 1/4, ... (max_halvings of them) with value_at(t) <= f0 + ARMIJO t
    slope; 0.0 when none is (slope: the directional derivative at t = 0, < 0 for a descent direction)."""
    t = 1.0
    for _ in range(max_halvings):
        if value_at(t) <= f0 + ARMIJO * t * slope:
            return t
        t *= 0.5
    return 0.0
