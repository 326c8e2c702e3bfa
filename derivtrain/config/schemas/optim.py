"""The `optim` group: its schemas, the optimizer names, and the checks of its values.

check_optim runs with the other groups' checks; check_full_batch once the fitter is known
(derivtrain/config/solver.py picks it from optim.name and the model).
"""
import math
from dataclasses import dataclass, field
from typing import List, Optional

from omegaconf import MISSING

from derivtrain.choices import EM_INITS
from derivtrain.config.values import positive
from derivtrain.errors import ConfigError, choice_error

GRADIENT_OPTIMIZERS = ("sgd", "adam", "adamw", "lbfgs")  # steps of the gradient loop (derivtrain/trainer/optimizers.py)
SOLVERS = ("certified", "newton", "em")  # full-batch methods with their own loops (derivtrain/trainer/fitters.py)
FULL_BATCH_OPTIMIZERS = ("auto",) + SOLVERS  # auto: unless it picks the gradient loop
OPTIMIZERS = FULL_BATCH_OPTIMIZERS + GRADIENT_OPTIMIZERS
PRECISIONS = ("float32", "float64")
HESSIANS = ("auto", "dense", "cg")
SCHEDULES = ("none", "cosine", "step", "plateau")


@dataclass
class OptimSchema:
    name: str = MISSING
    lr: float = 0.1
    tol: float = 1.0e-4  # convex models: stop once the certified relative optimality gap is below it
    weight_decay: float = 0.0
    schedule: str = "none"  # none | cosine | step | plateau
    step_size: int = 30  # step: multiply lr by gamma every step_size epochs
    gamma: float = 0.1  # step and plateau: the decay factor
    patience: int = 10  # plateau: epochs without improvement before decaying


@dataclass
class SGDSchema(OptimSchema):
    name: str = "sgd"
    # null: min(0.1, (1 - momentum) batch_size / mean ||x||^2, 1 / (c lambda_max)) for a linear model (c: the
    # loss's curvature bound, lambda_max: the rows' covariance's largest eigenvalue), 0.1 for others
    # (trainer/sgd_rate.py)
    lr: Optional[float] = None
    momentum: float = 0.9
    nesterov: bool = False


@dataclass
class AdamSchema(OptimSchema):
    name: str = "adam"
    lr: float = 0.001
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8


@dataclass
class LBFGSSchema(OptimSchema):
    name: str = "lbfgs"
    lr: float = 1.0
    max_iter: int = 20
    history_size: int = 10
    line_search: Optional[str] = "strong_wolfe"


# Full-batch methods with their own loops; trainer.batch_size does not apply to them.
@dataclass
class CertifiedSchema:
    """Newton on a smoothed objective, stopped on a duality-gap certificate (trainer/certified.py).
    trainer.max_epochs caps its iterations."""
    name: str = "certified"
    tol: float = 1.0e-4  # stop once the certified relative optimality gap (P - D) / |P| is below it
    hessian: str = "auto"  # dense | cg (conjugate gradients, Hessian-vector products only) | auto
    max_dense: int = 2048  # auto: a dense Hessian up to this many parameters (per class where classes do not interact)
    dtype: str = "float64"  # iterate in float64: certifying a gap of 1e-6 needs more than float32's rounding


@dataclass
class AutoSchema(AdamSchema):
    """optim=auto: each model's natural solver (derivtrain/trainer/fitters.py). The keys are those of
    the solvers it may pick: tol/hessian/max_dense/dtype (the certified solver), n_init/init/max_iter
    (EM: mixtures), lr/betas/eps/weight_decay/schedule (Adam: the MLP and plugin models; lr=null:
    found by a range test)."""
    name: str = "auto"
    lr: Optional[float] = None  # null: found by a short range test (derivtrain/trainer/lr_range.py)
    tol: float = 1.0e-4
    hessian: str = "auto"
    max_dense: int = 2048
    dtype: str = "float64"
    max_iter: int = 100
    n_init: int = 1
    init: str = "kmeans"


@dataclass
class NewtonSchema:
    """Newton's method with a backtracking line search (trainer/newton.py): the Hessian X^T D X + alpha I
    of a linear convex model (the certified solver's step), from autograd on anything else."""
    name: str = "newton"
    max_iter: int = 50
    tol: float = 1.0e-4  # a certified relative gap where the objective has a convex dual, else decrement^2/2 <= tol |f|
    hessian: str = "auto"  # dense | cg (Newton-CG, Hessian-vector products only) | auto (dense up to max_dense)
    # parameters; autograd's dense H costs one backward pass per parameter, CG one per CG step (a linear
    # convex model: H's size, one class's block where the classes do not interact, as optim=certified)
    max_dense: int = 200
    dtype: str = "float64"  # iterate in float64 (float32 rounding stops Newton short of the optimum)


@dataclass
class EMSchema:
    """Expectation-maximization for mixture models (trainer/em.py)."""
    name: str = "em"
    max_iter: int = 100
    tol: float = 1e-3  # converged once an iteration raises the mean log-likelihood by less (scikit-learn's test)
    n_init: int = 1  # restarts from different k-means++ seeds; the best is kept
    init: str = "kmeans"  # kmeans (k-means++ seeds + Lloyd's iterations) | k-means++ (seeds only)


SCHEMAS = {"sgd": SGDSchema, "adam": AdamSchema, "lbfgs": LBFGSSchema, "newton": NewtonSchema, "em": EMSchema,
           "certified": CertifiedSchema, "auto": AutoSchema}


def check_optim(o) -> None:
    if o.name not in OPTIMIZERS:
        raise choice_error("optim.name", o.name, OPTIMIZERS)
    if "tol" in o and not (o.tol > 0 and math.isfinite(o.tol)):
        raise ConfigError(f"optim.tol={o.tol} must be a finite number > 0 (the relative optimality gap to stop at)")
    if "lr" in o:
        positive("optim.lr", o.lr)
    if "schedule" in o and o.schedule not in SCHEDULES:
        raise choice_error("optim.schedule", o.schedule, SCHEDULES)


def check_full_batch(o, t, fitter: str) -> None:
    """The certified solver, Newton and EM: each iteration reads the whole training set (under
    trainer=ddp the certified solver and Newton sum over every rank's rows; EM does not)."""
    chosen = f"optim={o.name}" + (f" (here: the {fitter} solver)" if o.name == "auto" else "")
    if t.strategy == "ddp" and fitter == "em":
        # EM's M-step is not reduced across ranks: every rank would fit its own rows
        raise ConfigError(f"{chosen} fits in one process; under trainer=ddp use optim=sgd (or adam), "
                          "or run without torchrun")
    if t.batch_size is not None:
        raise ConfigError(f"{chosen} uses the full training set in every iteration; "
                          f"trainer.batch_size={t.batch_size} must be null (or pick optim=sgd/adam for minibatches)")
    if "max_iter" in o:
        positive("optim.max_iter", o.max_iter)
    if fitter == "em":
        positive("optim.n_init", o.n_init)
        if o.init not in EM_INITS:
            raise choice_error("optim.init", o.init, EM_INITS)
    elif "hessian" in o:
        if o.hessian not in HESSIANS:
            raise choice_error("optim.hessian", o.hessian, HESSIANS)
        if o.dtype not in PRECISIONS:
            raise choice_error("optim.dtype", o.dtype, PRECISIONS)
        positive("optim.max_dense", o.max_dense)

