"""Model-parameter randomization test (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

An explanation is supposed to describe the trained model. Re-initialise every weight (the
module's own initialisation, i.e. an untrained model of the same shape), explain the same rows for
the same target classes, and compare: if the map barely changes, it reflects the input or the
architecture rather than what was learned. The comparison is the Spearman rank correlation of
|attribution| per row, averaged over rows; at or above the threshold the method is flagged.
"""
import copy
from dataclasses import dataclass

import numpy as np
import torch

from derivtrain.sensitivity.importance import row_spearman


@dataclass
class SanityResult:
    rank_correlation: float  # mean over rows of Spearman(|real|, |randomized|)
    flagged: bool
    random_values: np.ndarray  # (n, d) attributions of the randomized model


def randomized_copy(model, seed: int):
    """A copy of the model with every parameter re-drawn; the standardization buffers stay.

    Modules re-draw with their own reset_parameters (on a CPU copy, under a seeded, forked
    generator, so the result does not depend on the device and the caller's random state is kept).
    A parameter no module resets is shuffled, which keeps its values but destroys what was learned.
    """
    device = next(model.parameters()).device
    copy_ = copy.deepcopy(model).cpu()
    reset = set()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for module in copy_.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
                reset.update(id(p) for p in module.parameters(recurse=False))
        with torch.no_grad():
            for p in copy_.parameters():
                if id(p) not in reset:
                    p.copy_(p.flatten()[torch.randperm(p.numel())].reshape(p.shape))
    return copy_.to(device)


def compare_maps(real: np.ndarray, random: np.ndarray, threshold: float) -> SanityResult:
    correlation = float(np.nanmean(row_spearman(np.abs(real), np.abs(random))))
    return SanityResult(correlation, bool(correlation >= threshold), random)
