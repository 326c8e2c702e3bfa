"""Models: nn.Modules that are also estimators (see base.Model)."""
from derivtrain.models.base import Model

__all__ = ["Model"]
