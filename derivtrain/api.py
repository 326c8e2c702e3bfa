"""load_run(path): the trained model of a run folder, ready to predict on raw features."""
from derivtrain.saved import build_model, read_saved_run, trusted_config


def load_run(path):
    """A run folder (or its checkpoints/last.pt) -> the model, in eval mode on the CPU.

    The model has predict, decision_function, classes_, config, and predict_proba where it means
    something (classifiers trained with cross-entropy). Density models (model=gmm, model=gaussian)
    have score_samples (log-density in the user's units), score, bic, aic, predict_proba and
    predict (over components) and sample(n); Poisson regression predicts expected counts.

    A run folder is data: the model's code is the one its recorded option (model=svm) names among
    derivtrain's and the installed plugins' options, never a `_target_` read from the file
    (derivtrain/saved.py); anything else is a UserError.
    """
    saved = read_saved_run(path)
    model = build_model(saved)
    model.probability_link = saved.state.get("probability_link")
    model.config = trusted_config(saved)
    return model.eval()
