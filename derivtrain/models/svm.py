"""Linear support vector machine: scores s = Xw + b, trained with the hinge loss + L2 penalty.

Objective (binary):  mean_i max(0, 1 - y_i s_i) + alpha/2 ||w||^2.
scikit-learn's LinearSVC minimizes 1/2 ||w||^2 + C sum_i max(0, 1 - y_i s_i); dividing it by C*n
gives ours with

    alpha = 1 / (C * n_train),   C = 1 / (alpha * n_train)

alpha is regularizer.strength; model.C or model.alpha set it for this model instead (one of the
two, not both). The same minimizer (up to the bias, which LinearSVC penalizes and we do not).

Several classes: one score per class (argmax predicts), trained per model.multiclass:
  ovr             one binary hinge per class against the rest (LinearSVC's default)
  crammer_singer  the true class beats the best rival by 1 (LinearSVC(multi_class="crammer_singer"))
  weston_watkins  the true class beats every rival by 1
conf/loss/hinge.yaml reads model.multiclass, so `model=svm model.multiclass=crammer_singer` trains
the Crammer-Singer hinge (derivtrain/losses/multiclass_hinge.py) with no other setting.
"""
from typing import Optional

from derivtrain.choices import MULTICLASS
from derivtrain.errors import ConfigError, choice_error
from derivtrain.models.base import LinearModel



def alpha_from_C(C: float, n_train: int) -> float:
    """Our L2 strength for scikit-learn's C on n_train training rows."""
    return 1.0 / (C * n_train)


def C_from_alpha(alpha: float, n_train: int) -> float:
    """scikit-learn's C for our L2 strength alpha on n_train training rows."""
    return 1.0 / (alpha * n_train)


class LinearSVM(LinearModel):
    tasks = ("classification",)

    def __init__(self, spec, multiclass: str = "ovr", C: Optional[float] = None, alpha: Optional[float] = None):
        super().__init__(spec, spec.n_outputs)
        if multiclass not in MULTICLASS:
            raise choice_error("model.multiclass", multiclass, MULTICLASS)
        if C is not None and alpha is not None:
            raise ConfigError(f"model.C={C} and model.alpha={alpha} both set the L2 strength "
                              f"(alpha = 1/(C n_train)); set one of them")
        if (C is not None and C <= 0) or (alpha is not None and alpha < 0):
            raise ConfigError(f"model.C must be > 0 and model.alpha >= 0 (got C={C}, alpha={alpha})")
        self.multiclass, self.C, self.alpha = multiclass, C, alpha

    def regularization_strength(self, n_train: int, default: float) -> float:
        """alpha for training on n_train rows: from model.C or model.alpha, else `default`."""
        if self.C is not None:
            return alpha_from_C(self.C, n_train)
        return self.alpha if self.alpha is not None else default
