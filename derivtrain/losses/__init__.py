"""Losses and penalties whose derivatives derivtrain writes itself (see each file's docstring).

    base.py                                            the Loss contract every loss (plugins too) keeps
    convex_loss.py, weighted_penalty.py                a convex loss / penalty written once (plugins)
    hinge.py, squared_hinge.py, multiclass_hinge.py   SVM losses (autograd Functions + nn.Modules)
    l1.py, l2.py, elastic_net.py                       penalties on the weights (penalty.py: the base)
    regularized.py                                     data loss + strength * penalty, one node
    linear_svm.py                                      the fused full-batch linear-SVM objective
    objective.py                                       what the training loop calls
    functional.py                                      all of them as plain functions
    likelihood.py                                      cross-entropy and squared error (torch's)
"""
from derivtrain.losses.base import Loss
from derivtrain.losses.convex_loss import ConvexLoss
from derivtrain.losses.weighted_penalty import ElementwisePenalty
from derivtrain.losses.elastic_net import ElasticNetPenalty
from derivtrain.losses.hinge import HingeFunction, HingeLoss, MulticlassHingeLoss
from derivtrain.losses.l1 import L1Penalty
from derivtrain.losses.l2 import L2Penalty
from derivtrain.losses.likelihood import CrossEntropyLoss, MSELoss
from derivtrain.losses.multiclass_hinge import CrammerSingerHingeFunction, WestonWatkinsHingeFunction
from derivtrain.losses.objective import Objective
from derivtrain.losses.first_order import NoSecondDerivativeError
from derivtrain.losses.penalty import NoPenalty, Penalty, PenaltyFunction
from derivtrain.losses.regularized import RegularizedObjective, regularized
from derivtrain.losses.squared_hinge import SquaredHingeFunction, SquaredHingeLoss

__all__ = ["ConvexLoss", "CrammerSingerHingeFunction", "CrossEntropyLoss", "ElasticNetPenalty", "ElementwisePenalty",
           "HingeFunction", "HingeLoss", "L1Penalty", "Loss", "L2Penalty", "MSELoss", "MulticlassHingeLoss",
           "NoPenalty", "NoSecondDerivativeError", "Objective", "Penalty", "PenaltyFunction", "RegularizedObjective",
           "SquaredHingeFunction", "SquaredHingeLoss", "WestonWatkinsHingeFunction", "regularized"]
