"""NewtonSteps: the certified solver's Newton part of an iteration (derivtrain/trainer/certified.py),
for a smooth loss: the gradient and the gap estimate that decides whether a certificate is worth
its pass, the step (sampled Hessian far from the optimum), the full step's scores kept for reuse."""
import math

from derivtrain.trainer.linear_newton import line_search, newton_direction, newton_gradient

_SAMPLED_ABOVE = 1.0  # Newton steps from a sampled Hessian while the gap estimate is above |P| (linear_system.py)
_SAMPLED_GAIN = 2.0  # and falls this many times a step (100k x 50: 4-8 times, as with the full H)


class NewtonSteps:
    """Newton's part of an iteration: its gradient at the iterate (one pass over X) and the gap a
    certificate would show there (linear_newton.py: newton_gradient), which decides whether one is
    worth computing: at 100k x 50 a certificate costs a third of a step, and the first steps' gaps
    are far above tol (logistic to 1e-3: 4 -> 1 certificate, multinomial 6 -> 1). Its steps take a
    sampled Hessian while that estimate is above _SAMPLED_ABOVE |P| and falls at least _SAMPLED_GAIN
    times a step (a sample too small for the rows' curvature: the full H from then on), and keep
    the full step's scores for the next iterate (line_search)."""

    def __init__(self, system, problem, saved: dict | None = None):
        """saved: a resumed solve's solver state (state() below), else None."""
        self.system, self.problem = system, problem
        self.gradient, self.next_scores = None, None
        saved = saved or {}
        self.estimate = float(saved.get("newton_estimate", math.inf))
        self.sampling, self.sampled = bool(saved.get("newton_sampling", True)), bool(saved.get("newton_sampled", False))

    def state(self) -> dict:
        """What the next iteration's choice of step reads (a resumed solve takes the same steps)."""
        return {"newton_estimate": self.estimate, "newton_sampling": self.sampling, "newton_sampled": self.sampled}

    def scores(self, T):
        z, self.next_scores = self.next_scores, None
        return self.system.scores(T) if z is None else z

    def observe(self, T, smooth) -> float:
        before = self.estimate
        self.gradient, self.estimate = newton_gradient(self.system, self.problem, T, smooth)
        self.sampling = self.sampling and not (self.sampled and self.estimate > before / _SAMPLED_GAIN)
        return self.estimate

    def step(self, T, z, y, c, smooth, primal, reduce) -> tuple:
        self.sampled = self.sampling and self.estimate > _SAMPLED_ABOVE * abs(primal)
        direction, slope = newton_direction(self.system, self.problem, T, smooth, self.gradient, self.sampled)
        if not slope < 0:
            return False, T
        t, self.next_scores = line_search(self.system, self.problem, T, z, y, c, direction, slope, primal, reduce)
        return t > 0.0, (T + direction if t == 1.0 else T + t * direction if t > 0.0 else T)
