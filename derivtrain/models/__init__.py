"""Models: nn.Modules that are also estimators (see base.Model)."""
from derivtrain.models.base import LinearModel, Model

__all__ = ["LinearModel", "Model"]
