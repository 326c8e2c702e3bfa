"""What every loss is: the contract derivtrain (and a plugin's loss) relies on.

A loss is an nn.Module mapping a model's scores and encoded targets to a scalar (the mean over
rows, so that the penalty's strength means the same whatever the data's size). Subclass `Loss`
and set what applies; the defaults describe a smooth regression loss.

    task                  "classification", "regression" or "density": the data it is for
                          (a mismatch with the data or the model is a configuration error)
    encode_targets(y, n)  class indices (classification), float values (regression) -> what
                          forward takes, once per split (signs, one-hot, ...); n is the number of
                          scores per row (1 for binary and regression problems)
    forward(scores, t)    the mean loss; scores (n,) with one score per row, else (n, K); a loss
                          that also takes `sample_weight` (n,) returns the weighted mean instead
                          (derivtrain/losses/reduction.py): what derivtrain.Estimator's
                          sample_weight and class_weight need
    differentiable        a first derivative everywhere (optim=lbfgs needs it; the hinge has a kink)
    twice_differentiable  its backward is differentiable again (optim=newton, exact Hessian-vector
                          products in the sharpness diagnostic)
    probability_link      "logistic" when scores are log-odds of a likelihood (sigmoid / softmax):
                          the trained model then has predict_proba
    is_likelihood         forward is a negative log-likelihood: log_likelihood is meaningful
    log_likelihood(s, t)  mean log p(target | scores) per row, constants included (None: not one)
    residual_loss         a function of the residual y - s alone (squared error, Huber, log-cosh):
                          regression targets are then fitted centred (derivtrain/losses/targets.py)
    residual_degree       k when also loss(c r) = c^k loss(r) (squared error: 2): targets may also be
                          scaled, and the loss in the data's units is c^k times the fitted one
    convex                the loss is convex in the scores and keeps the datafit contract
                          (derivtrain/convex/datafit.py): linear models trained with it are solved
                          to a certificate (optim=auto; derivtrain/convex/plan.py asks this)
    convex_dual(n)        that datafit for n scores per row. Written for you by ConvexLoss
                          (derivtrain/losses/convex_loss.py: one elementwise definition, or its
                          affine pieces); the built-in losses declare closed forms

Regression targets are floats, shape (n,): the values as given, or centred and scaled in float64
when the two attributes above allow it (derivtrain/losses/targets.py decides, the model maps its
scores back).
"""
from torch import nn


class Loss(nn.Module):
    task = "regression"
    differentiable = True
    twice_differentiable = True
    probability_link = None
    is_likelihood = False
    residual_loss = False
    residual_degree = None
    convex = False

    def encode_targets(self, y, n_outputs: int):
        return y

    def log_likelihood(self, scores, targets):
        return None

    def convex_dual(self, n_outputs: int):
        """A ConvexDatafit (derivtrain/convex/datafit.py) where `convex` is True, else None."""
        return None
