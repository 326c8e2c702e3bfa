"""Which precision a run's data and weights take, and the dtype combinations refused before a run.

The features are always standardized in float64 (derivtrain/data/in_memory.py); what they are
rounded to afterwards is decided here, from the config alone, before any data is read:

    float64   the certified solver (Newton on a convex linear model, optim=auto's L-BFGS) on the CPU with
              optim.dtype=float64, the default: the rows, the targets and the model's weights stay
              float64, so the problem certified is the README's objective on the user's rows, and
              the weights certified are the ones load_run predicts with (the solver makes a
              float64 copy of float32 rows anyway, so peak memory does not grow)
    float32   everything else: the gradient loop, a GPU, optim.dtype=float32

The interior-point method (a kinked loss or an L1 penalty) factors X^T D X + alpha I whose
barrier weights D span 1e-12..1e12 near the optimum: in float32 the factorization fails (not
finite, or not positive definite) before the gap is small. It is refused in one line instead.
"""
import torch

from derivtrain.errors import ConfigError


def kinked(cfg) -> bool:
    """The objective has a kink (hinge family or an L1 part): the interior-point method solves it."""
    from hydra.utils import get_class

    from derivtrain.config.solver import penalty_of  # the penalty's own say (an L1 part), not its name

    loss_cls = get_class(cfg.loss._target_)
    return not getattr(loss_cls, "differentiable", True) or not penalty_of(cfg).differentiable


def check_precision(cfg, fitter: str) -> None:
    """optim.dtype=float32 with the interior-point solver: refused (one line, exit 2)."""
    if fitter != "certified" or cfg.optim.get("dtype", "float64") != "float32" or not kinked(cfg):
        return
    raise ConfigError("optim.dtype=float32 cannot certify a kinked objective (hinge loss or an L1 penalty): "
                      "the interior-point system's barrier weights span 1e-12..1e12 and float32 cannot factor "
                      "it; drop optim.dtype (float64, the default)")


def working_dtype(cfg, device: torch.device, fitter: str, certifiable: bool) -> torch.dtype:
    """The dtype the data's rows and the model's weights take (module docstring)."""
    if device.type != "cpu" or cfg.optim.get("dtype", "float32") != "float64":
        return torch.float32
    if fitter == "certified" or (fitter == "newton" and certifiable):
        return torch.float64
    if fitter == "quasi_newton":  # float32's rounding of the objective stops its line search at ~4e-4 x |g0|
        return torch.float64
    return torch.float32


def run_dtype(cfg, device: torch.device) -> torch.dtype:
    """working_dtype for a composed, validated config (run() calls it before reading the data)."""
    from derivtrain.config.solver import check_solver, is_certifiable

    return working_dtype(cfg, device, check_solver(cfg), is_certifiable(cfg))
