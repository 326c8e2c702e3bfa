"""Classes that break derivtrain's contracts, for tests/test_contracts.py."""
from torch import nn

from derivtrain.losses.likelihood import MSELoss
from derivtrain.models import Model


class NotAModel(nn.Module):
    tasks = ("classification",)

    def __init__(self, spec):
        super().__init__()


class NoSpec(Model):
    tasks = ("classification",)

    def __init__(self, n_features: int = 3):
        super().__init__(None)


class TasksAsString(Model):
    tasks = "classification"

    def __init__(self, spec):
        super().__init__(spec)


class PlainModuleLoss(nn.Module):
    task = "classification"


class DualWithoutFlag(MSELoss):
    """A loss written for 0.2.0: its own convex_dual, and no `convex = True`, which 0.3.0 asks for."""
    convex = False

    def convex_dual(self, n_outputs: int):
        return super().convex_dual(n_outputs)
