"""A plugin loss or penalty that says it is convex but breaks the convex contract is named in one
line (class and missing or wrong piece), exit 2, before anything is written; a sound one passes."""
import pytest

from tests.conftest import run_main

BROKEN = "tests.convex.broken"


@pytest.mark.parametrize("override,message", [
    (f"loss._target_={BROKEN}.WritesNothing", "values fails at a probe point: NotImplementedError: WritesNothing "
                                              "writes neither `elementwise` nor `affine_pieces`"),
    (f"loss._target_={BROKEN}.WrongConjugate", "its conjugate(theta) is wrong at a probe point"),
    (f"loss._target_={BROKEN}.SaysConvexOnly", "it says convex = True but convex_dual(1) gives None"),
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

    class Ridge(ElementwisePenalty):
        def coefficients(self, shape):
            return 0.0, 2.0

    check_convex_loss(Logistic(), "Logistic")
    check_convex_penalty(Ridge(0.5), "Ridge")


def test_derivtrains_own_losses_and_penalties_keep_the_contract():
    """The built-ins declare closed forms beside their hand-written Functions: the probe checks that
    the two definitions are one loss (forward vs the datafit's values) and the conjugate is exact."""
    from derivtrain.convex.probe import check_convex_loss, check_convex_penalty
    from derivtrain.losses import (CrossEntropyLoss, ElasticNetPenalty, HingeLoss, L1Penalty, L2Penalty, MSELoss,
                                   SquaredHingeLoss)
    from derivtrain.losses.poisson import PoissonLoss

    for loss in (HingeLoss(), SquaredHingeLoss(), CrossEntropyLoss(), MSELoss(), PoissonLoss()):
        check_convex_loss(loss, type(loss).__name__)
    for penalty in (L1Penalty(0.3), L2Penalty(0.3), ElasticNetPenalty(0.3, 0.4)):
        check_convex_penalty(penalty, type(penalty).__name__)
