"""load_run(path): the trained model of a run folder, ready to predict on raw features."""
from hydra.utils import instantiate
from omegaconf import OmegaConf

from derivtrain.data.table import DataSpec
from derivtrain.targets import check_target
from derivtrain.train.checkpoint import load_checkpoint


def load_run(path):
    """A run folder (or its checkpoints/last.pt) -> the model, in eval mode on the CPU.

    The model has predict, decision_function, classes_, config, and predict_proba where it means
    something (classifiers trained with cross-entropy). Density models (model=gmm, model=gaussian)
    have score_samples (log-density in the user's units), score, bic, aic, predict_proba and
    predict (over components) and sample(n); Poisson regression predicts expected counts.
    """
    state = load_checkpoint(path)
    config = OmegaConf.create(state["config"])
    spec = DataSpec(**state["spec"])
    check_target(config.model, "model", supplied=("spec",))  # a clear error when a plugin is missing
    model = instantiate(config.model, _partial_=True)(spec=spec)
    model.load_state_dict(state["model"])
    model.probability_link = state.get("probability_link")
    model.config = config
    return model.eval()
