"""Can this objective be certified, and by which solver: one answer, for the pre-flight (from the
classes a config names, nothing built) and for the run (from the built objective).

    certifiable(model_cls, loss_cls, penalty_cls, strength, reduction) -> bool
    method(problem) -> "newton" | "interior_point"

An objective is certified when the model's scores are linear in its parameters (LinearModel),
the loss and the penalty say they are convex (`convex = True`: the contracts of
derivtrain/convex/datafit.py and penalty.py, which a loss or penalty of derivtrain.convex keeps
by construction), the loss is the mean over rows, and the penalty's strength is > 0 (without it
the dual has no finite point built from data). Newton's method solves it when nothing is kinked;
the interior-point method when the loss or the penalty has affine pieces.
"""


def certifiable(model_cls, loss_cls, penalty_cls, strength: float, reduction: str = "mean") -> bool:
    from derivtrain.models.base import LinearModel

    return (isinstance(model_cls, type) and issubclass(model_cls, LinearModel)
            and getattr(loss_cls, "convex", False) is True and getattr(penalty_cls, "convex", False) is True
            and reduction == "mean" and strength > 0)


def objective_certifiable(objective) -> bool:
    """certifiable() of a built objective (model, loss and penalty instances)."""
    return certifiable(type(objective.model), type(objective.loss), type(objective.penalty),
                       objective.penalty.strength, getattr(objective.loss, "reduction", "mean"))


def method(problem) -> str:
    """The certified solver for a LinearProblem (derivtrain/convex/certificate.py)."""
    return "interior_point" if problem.loss.nonsmooth or problem.penalty.pieces() is not None else "newton"
