"""An estimator whose loss is not named trains its model's natural loss for y's task, as the CLI
does for its data's (derivtrain/config/natural_loss.py): Estimator(model="mlp").fit(X, y) is a
classifier (cross-entropy) on labels and a regressor (squared error) on values.

The task is read from y where scikit-learn's conventions make it plain: floats (diabetes' 151.0,
252.0, ...: type_of_target calls whole-number floats "multiclass", but labels are not written as
floats with more than two values) are values; strings and other non-numbers are labels. Integers
and two-valued floats (0/1, 0.0/1.0) keep the model's configured loss (its config's default,
cross-entropy for the MLP): loss="mse" or loss="cross_entropy" says which for counts or ratings.
A loss the user named, or keyed (loss__...), is kept.
"""
import numpy as np

import derivtrain.estimator.configs as configs


def follows_y(recipe) -> bool:
    """Whether fit may pick the loss from y: the user named no loss nor any loss__ key."""
    return "loss" not in recipe.choices and not any(key.startswith("loss.") for key in recipe.values)


def task_of_y(y):
    """regression | classification where y says so unambiguously, else None."""
    from sklearn.utils.multiclass import type_of_target

    if y is None:
        return None
    try:
        kind = type_of_target(y)
    except ValueError:  # a y that validation will refuse with its own message
        return None
    if kind.startswith("continuous"):
        return "regression"
    dtype = np.asarray(y).dtype  # (a pandas category or string column: object)
    if np.issubdtype(dtype, np.floating):
        return "regression" if kind == "multiclass" else None
    return "classification" if not np.issubdtype(dtype, np.number) and dtype != bool else None


def with_natural_loss(recipe, cfg, y, configure):
    """(recipe, cfg) with the model's natural loss for y's task chosen, where it differs from the
    configured loss's task; unchanged otherwise."""
    natural = getattr(configs.target(cfg.model), "natural_losses", {})
    if not follows_y(recipe) or set(natural) <= {configs.task_of(cfg)}:
        return recipe, cfg  # (no other task has a natural loss: y need not be read, ~0.8 ms a fit)
    task = task_of_y(y)
    name = natural.get(task)
    if task is None or name is None or configs.task_of(cfg) == task:
        return recipe, cfg
    recipe = configs.Recipe({**recipe.choices, "loss": name}, recipe.values, recipe.names, recipe.C)
    return recipe, configure(recipe)
