"""Model-parameter randomization (Adebayo et al. 2018): maps that ignore the model get flagged."""
import numpy as np
import torch

from derivtrain.sensitivity.methods import attribute
from derivtrain.sensitivity.sanity import compare_maps, randomized_copy


def test_randomized_copy_redraws_every_weight_and_keeps_the_rest(mlp_digits):
    model = mlp_digits.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    random = randomized_copy(model, seed=1)
    for name, p in random.named_parameters():
        assert not torch.allclose(p, dict(model.named_parameters())[name]), name
    torch.testing.assert_close(random.feature_mean, model.feature_mean)
    torch.testing.assert_close(random.feature_scale, model.feature_scale)
    for k, v in model.state_dict().items():  # the trained model is untouched
        assert torch.equal(v, before[k])
    again = randomized_copy(model, seed=1)
    for p, q in zip(random.parameters(), again.parameters()):
        assert torch.equal(p, q)  # reproducible from the seed


def test_a_map_that_is_just_the_input_is_flagged():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 20))
    assert compare_maps(X, X * 3, threshold=0.5).flagged  # the "explanation" does not depend on the model
    independent = compare_maps(X, rng.normal(size=(50, 20)), threshold=0.5)
    assert not independent.flagged and abs(independent.rank_correlation) < 0.1


def test_saliency_of_a_trained_model_changes_with_random_weights(mlp_digits):
    model, X = mlp_digits.model, mlp_digits.data.test.X
    real = attribute(model, X, "saliency")
    random = attribute(randomized_copy(model, seed=0), X, "saliency", target=real.targets)
    result = compare_maps(real.values.numpy(), random.values.numpy(), threshold=0.5)
    assert not result.flagged and result.rank_correlation < 0.2
