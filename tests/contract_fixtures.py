"""Classes that break derivtrain's contracts, for tests/test_contracts.py."""
from torch import nn

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
