"""PathPoint: one strength of a path, solved and certified (what path.csv writes a row of)."""
from dataclasses import dataclass
from typing import Any, Optional

import torch


@dataclass
class PathPoint:
    strength: float
    objective: float  # the regularized training objective at the point's weights
    gap: float  # its certified relative optimality gap
    converged: bool  # gap <= optim.tol (False: it stopped at the iteration cap, or rounding)
    iterations: int
    metrics: dict  # train/* and val/* at the point (val/*: the fold's validation rows under CV)
    non_zeros: int  # weights not zero at the optimum (count_non_zeros)
    weights: torch.Tensor  # [W | b], (n_outputs, n_features + 1), float64 on the CPU
    certificate: Any = None  # the solver's own (its dual bound: what the chosen point's report reuses)
    tol: Optional[float] = None  # the tolerance it was solved to (optim.tol, or its precision's floor)
    fitted: Optional[float] = None  # the strength in the fitted problem's units (scaled targets: grid.py)
