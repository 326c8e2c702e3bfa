"""What is explained: which score of which class, relative to which baseline input.

Attributions are taken with respect to the model's own input, the standardized features
z = (x - mean) / scale (mean and scale fitted on the training rows). So the baseline z = 0 is the
training mean, every feature is measured in its own standard deviations, and a gradient says how
much the score moves per standard deviation of that feature, which makes features with different
units comparable. Integrated gradients, DeepLift, feature ablation and Kernel SHAP with a baseline
are the same in either space (their (z - z0) and their gradient rescale by reciprocal factors);
saliency and gradient x input are not: multiply a saliency by 1/scale for per-raw-unit gradients.
"""
import torch
from torch import nn


class ClassScores(nn.Module):
    """One score per class, so a target is always a class index (or None for regression).

    A binary model gives one score s: the log-odds (logistic) or signed margin (SVM) of classes_[1].
    The evidence for classes_[0] is -s, so stacking (-s, s) lets every method explain either class
    with the same indexing as a multi-class model. A regression model's scores are taken in the
    targets' units (times its target_scale: derivtrain/data/targets.py), so attributions are too.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        scores = self.model(X)
        if scores.dim() == 1 and self.model.classes_:
            return torch.stack((-scores, scores), dim=1)
        scale = getattr(self.model, "target_scale", None)  # (its mean cancels in every attribution)
        return scores if scale is None or float(scale) == 1.0 else scores * scale.to(scores.dtype)


def target_indices(target, scores: torch.Tensor, y, classes) -> torch.Tensor | None:
    """Per-row class indices into ClassScores' output; None for a single-output (regression) model.

    target: "predicted" (argmax, what the model decides), "true" (the label y), a class label, or
    a tensor of class indices already chosen (e.g. the real model's, for the sanity check).
    """
    if scores.dim() == 1:
        return None
    n = scores.shape[0]
    if torch.is_tensor(target):
        return target.to(scores.device).long().expand(n)
    if target == "predicted":
        return scores.argmax(dim=1)  # ties (s = 0 for a binary model) go to classes_[0], as predict does
    if target == "true":
        if y is None:
            raise ValueError("target='true' needs the labels y")
        return torch.as_tensor(y, device=scores.device).long()
    index = [str(c) for c in classes].index(str(target))
    return torch.full((n,), index, dtype=torch.long, device=scores.device)


def baseline_input(baseline, model, like: torch.Tensor) -> torch.Tensor:
    """The baseline as one row of the model's (standardized) input, shape (1, d).

    "mean": z = 0, the training mean; "zero": raw features all 0 (a blank image for pixel data);
    a sequence: raw feature values; a tensor: already in the model's input space.
    """
    if torch.is_tensor(baseline):
        return baseline.to(device=like.device, dtype=like.dtype).reshape(1, -1)
    if isinstance(baseline, str):
        if baseline == "mean":
            return torch.zeros(1, like.shape[1], device=like.device, dtype=like.dtype)
        if baseline != "zero":
            raise ValueError(f"baseline={baseline!r}: expected 'mean', 'zero', raw values or a tensor")
        raw = torch.zeros(like.shape[1], dtype=torch.float64)
    else:
        raw = torch.as_tensor([float(v) for v in baseline], dtype=torch.float64)
    mean, scale = model.feature_mean.to(like), model.feature_scale.to(like)
    return ((raw.to(like) - mean) / scale).reshape(1, -1)
