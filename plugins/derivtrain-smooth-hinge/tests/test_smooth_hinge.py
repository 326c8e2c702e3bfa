import json
import subprocess
import sys

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

pytest.importorskip("derivtrain_smooth_hinge")
from derivtrain_smooth_hinge.loss import SmoothHingeLoss  # noqa: E402


def reference(scores, signs, h):
    """The three pieces written out, element by element."""
    out = []
    for z in (signs * scores).flatten().tolist():
        out.append(0.0 if z >= 1 else (1 - z) ** 2 / (2 * h) if z > 1 - h else 1 - z - h / 2)
    return sum(out) / scores.shape[0]


@pytest.mark.parametrize("shape", [(40,), (30, 3)])
def test_value_matches_the_piecewise_formula(shape):
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(shape, generator=g, dtype=torch.float64) * 2
    signs = torch.randint(0, 2, shape, generator=g).double() * 2 - 1
    loss = SmoothHingeLoss(0.5)(scores, signs)
    assert loss.item() == pytest.approx(reference(scores, signs, 0.5), abs=1e-12)


def test_tends_to_the_hinge():
    scores = torch.linspace(-3, 3, 101, dtype=torch.float64)
    signs = torch.ones(101, dtype=torch.float64)
    hinge = torch.clamp(1 - scores, min=0).mean()
    assert SmoothHingeLoss(1e-6)(scores, signs).item() == pytest.approx(hinge.item(), abs=1e-6)


def test_gradcheck_and_gradgradcheck():
    g = torch.Generator().manual_seed(1)
    scores = (torch.randn(25, generator=g, dtype=torch.float64) * 2).requires_grad_()
    signs = torch.randint(0, 2, (25,), generator=g).double() * 2 - 1
    z = signs * scores.detach()
    # keep every margin away from the two joins (z = 1 and z = 1 - h) where the second derivative jumps
    assert ((z - 1).abs() > 1e-3).all() and ((z - 0.5).abs() > 1e-3).all()
    loss = SmoothHingeLoss(0.5)
    assert gradcheck(lambda s: loss(s, signs), (scores,))
    assert gradgradcheck(lambda s: loss(s, signs), (scores,))


def test_trains_from_the_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "derivtrain", "loss=smooth_hinge", "model=svm",
                           "logger=none", f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test/accuracy"] >= 0.95


def test_passes_derivtrains_gradient_check():
    proc = subprocess.run([sys.executable, "-m", "derivtrain.gradcheck", "loss=smooth_hinge", "model=svm"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "loss=smooth_hinge" in proc.stdout and "gradgradcheck" in proc.stdout and "fail" not in proc.stdout
