"""The losses and penalties as functions, for use outside the training loop.

    from derivtrain.losses import functional as F
    F.hinge(scores, y)                                  # y in {-1, +1}; mean over samples
    F.multiclass_hinge(scores, y, variant="weston_watkins", reduction="sum")
    F.squared_hinge(scores, y, sample_weight=w, class_weight=[1.0, 5.0])
    F.l1(model.parameters()); F.l2(w); F.elastic_net([w1, w2], l1_ratio=0.3)

Losses take reduction="mean" | "sum" | "none", sample_weight (n,) and class_weight (one per class);
see derivtrain/losses/reduction.py for how they combine. Penalties take a tensor or an iterable of
tensors and return a scalar without strength. Each is a custom autograd Function (see its file).
"""
from derivtrain.losses.elastic_net import ElasticNetPenalty
from derivtrain.losses.hinge import hinge
from derivtrain.losses.l1 import L1Penalty
from derivtrain.losses.l2 import L2Penalty
from derivtrain.losses.multiclass_hinge import multiclass_hinge
from derivtrain.losses.penalty import Params
from derivtrain.losses.squared_hinge import squared_hinge

__all__ = ["hinge", "squared_hinge", "multiclass_hinge", "l1", "l2", "elastic_net"]


def l1(w: Params):
    """||w||_1 summed over all tensors; subgradient sign(w), 0 at 0."""
    return L1Penalty()(w)


def l2(w: Params):
    """1/2 ||w||^2 summed over all tensors; gradient w, twice differentiable."""
    return L2Penalty()(w)


def elastic_net(w: Params, l1_ratio: float = 0.5):
    """l1_ratio ||w||_1 + (1 - l1_ratio) 1/2 ||w||^2; subgradient with sign(0) = 0."""
    return ElasticNetPenalty(l1_ratio=l1_ratio)(w)
