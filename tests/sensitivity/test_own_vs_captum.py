"""derivtrain's own gradient methods against Captum and autograd, on a trained digits MLP."""
import pytest
import torch
from captum.attr import InputXGradient, Saliency

from derivtrain.sensitivity import ClassScores, grad_x_input, input_gradients, jacobian, saliency, smoothgrad
from derivtrain.sensitivity.methods import attribute

# Captum notes that it switched requires_grad on for our inputs; that is expected here
pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


@pytest.fixture
def mlp(mlp_digits):
    model, X = mlp_digits.model, mlp_digits.data.test.X
    forward = ClassScores(model)
    with torch.no_grad():
        target = forward(X).argmax(1)
    return forward, X, target


def test_saliency_matches_captum(mlp):
    forward, X, target = mlp
    ours = saliency(forward, X, target)
    theirs = Saliency(forward).attribute(X, target=target)
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)
    assert ours.abs().sum() > 0


def test_grad_x_input_matches_captum(mlp):
    forward, X, target = mlp
    torch.testing.assert_close(grad_x_input(forward, X, target), InputXGradient(forward).attribute(X, target=target),
                               atol=1e-6, rtol=0)


def test_row_batches_do_not_change_the_gradients(mlp):
    # one backward per batch of summed scores is right only if rows do not interact
    forward, X, target = mlp
    torch.testing.assert_close(input_gradients(forward, X, target, batch_size=7), input_gradients(forward, X, target),
                               atol=1e-6, rtol=0)


def test_smoothgrad_is_the_mean_gradient_over_its_noisy_inputs(mlp):
    forward, X, target = mlp
    X = X[:50]
    generator = torch.Generator().manual_seed(5)
    noisy = [X + 0.3 * torch.randn(X.shape, generator=generator) for _ in range(4)]
    by_hand = torch.stack([torch.autograd.functional.jacobian(lambda x: forward(x).gather(1, target[:50, None]).sum(),
                                                              xn) for xn in noisy]).mean(0)
    torch.testing.assert_close(smoothgrad(forward, X, target[:50], noise_samples=4, noise_stdev=0.3, seed=5), by_hand,
                               atol=1e-6, rtol=0)
    # noise_stdev=0: plain gradients
    torch.testing.assert_close(smoothgrad(forward, X, target[:50], noise_samples=2, noise_stdev=0.0),
                               input_gradients(forward, X, target[:50]), atol=1e-6, rtol=0)


def test_jacobian_matches_autograd_row_by_row(mlp_digits):
    model, X = mlp_digits.model, mlp_digits.data.test.X[:20]
    J = jacobian(model, X, batch_size=8)
    assert J.shape == (20, 10, 64)
    for i in range(len(X)):
        row = torch.autograd.functional.jacobian(lambda x: model(x.unsqueeze(0)).squeeze(0), X[i])
        torch.testing.assert_close(J[i], row, atol=1e-6, rtol=0)
    # each class's row of the Jacobian is that class's input gradient
    target = torch.full((20,), 3)
    torch.testing.assert_close(J[:, 3], input_gradients(model, X, target), atol=1e-6, rtol=0)


def test_attribute_restores_training_mode_and_leaves_parameter_gradients_alone(mlp_digits):
    model = mlp_digits.model
    model.zero_grad(set_to_none=True)  # training left its last gradients there
    model.train()
    try:
        attribute(model, mlp_digits.data.test.X[:10], "saliency")
        assert model.training
        assert all(p.grad is None for p in model.parameters())
    finally:
        model.eval()


def test_a_single_output_model_has_no_target_to_choose(linear_diabetes):
    model, X = linear_diabetes.model, linear_diabetes.data.test.X
    with pytest.raises(ValueError, match="one score per row"):
        saliency(model, X, torch.zeros(len(X), dtype=torch.long))
    with pytest.raises(TypeError, match="saliency takes no option n_steps"):
        attribute(model, X, "saliency", n_steps=3)


def test_integrated_gradients_adapter_matches_plain_captum(mlp):
    # the adapter swaps Captum's per-row gradient calls for one summed call: same numbers
    from captum.attr import IntegratedGradients

    forward, X, target = mlp
    ours = attribute(forward.model, X, "integrated_gradients", n_steps=32, integration="gausslegendre",
                     batch_size=1000)
    values, delta = IntegratedGradients(forward).attribute(X, baselines=torch.zeros_like(X), target=target, n_steps=32,
                                                            return_convergence_delta=True)
    torch.testing.assert_close(ours.values, values, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.delta, delta, atol=1e-5, rtol=0)


def test_noise_tunnel_adapter_matches_plain_captum(mlp):
    from captum.attr import NoiseTunnel, Saliency

    from derivtrain.sensitivity.captum_methods import seeded

    forward, X, target = mlp
    X, target = X[:40], target[:40]
    ours = attribute(forward.model, X, "noise_tunnel", base="saliency", nt_type="vargrad", noise_samples=3,
                     noise_stdev=0.2, seed=4)
    with seeded(4, X.device):
        theirs = NoiseTunnel(Saliency(forward)).attribute(X, nt_type="vargrad", nt_samples=3, stdevs=0.2,
                                                          target=target, abs=False)
    torch.testing.assert_close(ours.values, theirs, atol=1e-6, rtol=0)
