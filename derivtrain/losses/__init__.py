"""Losses and penalties whose derivatives derivtrain writes itself (see each file's docstring)."""
from derivtrain.losses.hinge import HingeFunction, HingeLoss
from derivtrain.losses.l2 import L2Penalty
from derivtrain.losses.likelihood import CrossEntropyLoss, MSELoss
from derivtrain.losses.objective import Objective
from derivtrain.losses.penalty import NoPenalty, Penalty, RegularizedObjective

__all__ = ["HingeFunction", "HingeLoss", "L2Penalty", "CrossEntropyLoss", "MSELoss", "Objective",
           "NoPenalty", "Penalty", "RegularizedObjective"]
