"""A plugin loss or penalty that says it is convex but breaks the convex contract is named in one
line (class and missing or wrong piece), exit 2, before anything is written; a sound one passes."""
import pytest
import torch

from tests.conftest import run_main

BROKEN = "tests.convex.broken"


@pytest.mark.parametrize("override,message", [
    (f"loss._target_={BROKEN}.WritesNothing", "values fails at a probe point: NotImplementedError: WritesNothing "
                                              "writes neither `elementwise` nor `affine_pieces`"),
    (f"loss._target_={BROKEN}.WrongConjugate", "its conjugate(theta) is wrong at a probe point"),
    (f"loss._target_={BROKEN}.SaysConvexOnly", "it says convex = True but convex_dual(1) gives None"),
    (f"loss._target_={BROKEN}.WrongCurvature", "its elementwise_derivatives gives a second derivative of"),
    (f"loss._target_={BROKEN}.ScaledCrossEntropy", "but its datafit's mean value is"),
    (f"regularizer._target_={BROKEN}.TooLowL1", "its conjugate(V) is wrong at a probe point"),
    (f"regularizer._target_={BROKEN}.NoConjugate", "its convex dual Half lacks conjugate, feasible_scale, "
                                                   "smooth_part, pieces, weight_bound"),
])
def test_a_broken_convex_contract_is_one_line_and_nothing_written(tmp_path, override, message):
    folder = tmp_path / "run"
    proc = run_main("model=logistic", override, f"hydra.run.dir={folder}")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert override.split("=")[1] in proc.stderr and message in proc.stderr, proc.stderr
    assert not folder.exists() or not any(folder.iterdir())


def test_sound_plugins_pass_the_probe():
    from derivtrain.convex.probe import check_convex_loss, check_convex_penalty
    from derivtrain.losses import ElementwisePenalty
    from tests.convex.broken import WrongConjugate

    class Logistic(WrongConjugate):
        conjugate = None  # computed from the value and its derivatives instead

        def elementwise_derivatives(self, scores, signs):
            p = torch.sigmoid(-signs * scores)
            return self.elementwise(scores, signs), -signs * p, p * (1 - p)

    class Ridge(ElementwisePenalty):
        def coefficients(self, shape):
            return 0.0, 2.0

    check_convex_loss(Logistic(), "Logistic")
    check_convex_penalty(Ridge(0.5), "Ridge")


def test_derivtrains_own_losses_and_penalties_keep_the_contract():
    """The probe (one score a row) passes on every built-in: forward and the datafit's values are one
    loss and the closed-form conjugates are exact at a gradient."""
    from derivtrain.convex.probe import check_convex_loss, check_convex_penalty
    from derivtrain.losses import (CrossEntropyLoss, ElasticNetPenalty, HingeLoss, L1Penalty, L2Penalty, MSELoss,
                                   SquaredHingeLoss)
    from derivtrain.losses.poisson import PoissonLoss

    for loss in (HingeLoss(), SquaredHingeLoss(), CrossEntropyLoss(), MSELoss(), PoissonLoss()):
        check_convex_loss(loss, type(loss).__name__)
    for penalty in (L1Penalty(0.3), L2Penalty(0.3), ElasticNetPenalty(0.3, 0.4)):
        check_convex_penalty(penalty, type(penalty).__name__)


def _digits_scores(K: int):
    """Scores of a fixed linear map of scikit-learn's digits (real rows), float64, and class indices."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = y < K
    X = torch.as_tensor(X[keep][:300], dtype=torch.float64) / 16
    W = torch.randn(X.shape[1], K, dtype=torch.float64, generator=torch.Generator().manual_seed(K))
    return X @ W, torch.as_tensor(y[keep][:300])


@pytest.mark.parametrize("make,K", [("ovr_hinge", 3), ("crammer_singer", 4), ("weston_watkins", 4),
                                     ("squared_hinge", 3), ("softmax", 4), ("binary_logistic", 2)])
def test_each_builtin_datafit_is_its_training_loss_row_by_row(make, K):
    """Each loss is written once: the datafit's values per row equal what training minimizes
    (forward with one-hot sample weights picks a row out), and at each row's gradient theta
    the conjugate meets Fenchel-Young, l*(theta) = theta . z - l(z), on real rows with K scores."""
    from derivtrain.losses import CrossEntropyLoss, HingeLoss, SquaredHingeLoss

    loss = {"ovr_hinge": lambda: HingeLoss("ovr"), "crammer_singer": lambda: HingeLoss("crammer_singer"),
            "weston_watkins": lambda: HingeLoss("weston_watkins"), "squared_hinge": lambda: SquaredHingeLoss(),
            "softmax": lambda: CrossEntropyLoss(), "binary_logistic": lambda: CrossEntropyLoss()}[make]()
    z, classes = _digits_scores(K)
    n_outputs = 1 if make == "binary_logistic" else K
    z = z[:, :1] if n_outputs == 1 else z
    targets = loss.encode_targets(classes, n_outputs)
    datafit = loss.convex_dual(n_outputs)
    y = datafit.prepare(targets)
    values = datafit.values(z, y)
    scores = z[:, 0] if n_outputs == 1 else z
    per_row = torch.stack([loss(scores, targets.to(z.dtype) if targets.is_floating_point() else targets,
                                sample_weight=torch.eye(len(z), dtype=z.dtype)[i]) for i in range(0, len(z), 37)])
    assert torch.allclose(values[::37], per_row, rtol=1e-12, atol=1e-12)
    leaf = z.clone().requires_grad_(True)
    (theta,) = torch.autograd.grad(datafit.values(leaf, y).sum(), leaf)
    exact = (theta * z).sum(dim=1) - values
    assert torch.allclose(datafit.conjugate(theta, y), exact, rtol=1e-9, atol=1e-9)
