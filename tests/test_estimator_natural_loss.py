"""derivtrain.Estimator(model="mlp") takes its model's natural loss for y's task, as the CLI takes
it for the data's (derivtrain/estimator/natural_loss.py): squared error on values, cross-entropy on
labels; a loss the user names is kept."""
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.model_selection import KFold, cross_val_score

from derivtrain.estimator import MLP, Estimator
from derivtrain.estimator.natural_loss import task_of_y


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X[:340], y[:340], X[340:], y[340:]


def test_the_mlp_on_values_is_a_regressor_with_squared_error(diabetes):
    X, y, X_test, y_test = diabetes
    fitted = Estimator(model="mlp").fit(X, y)
    named = Estimator(model="mlp", loss="mse").fit(X, y)
    assert np.array_equal(fitted.predict(X_test), named.predict(X_test))  # the same fit as naming loss="mse"
    assert fitted.score(X_test, y_test) > 0.35  # R^2 (diabetes' values are whole-number floats: 151.0, ...)
    assert not hasattr(fitted, "predict_proba") and not hasattr(fitted, "decision_function")
    assert not hasattr(fitted, "classes_") and "train/loss" in fitted.metrics_
    # scored as R^2, not accuracy (the folds are named: scikit-learn, seeing the configured classifier, would
    # stratify on whole-number values; loss="mse" or MLP(task="regression") is a regressor to it)
    assert cross_val_score(Estimator(model="mlp"), X, y, cv=KFold(3, shuffle=True, random_state=0)).mean() > 0.3


def test_labels_keep_cross_entropy_and_a_named_loss_is_kept(diabetes):
    X, y = load_iris(return_X_y=True)
    fitted = Estimator(model="mlp").fit(X, y)
    assert list(fitted.classes_) == [0, 1, 2] and fitted.predict_proba(X).shape == (150, 3)
    strings = Estimator(model="mlp").fit(X, np.array(["a", "b", "c"])[y])
    assert list(strings.classes_) == ["a", "b", "c"]
    X, y, _, _ = diabetes
    with pytest.raises(ValueError, match="continuous"):  # the user's classifier refuses values
        Estimator(model="mlp", loss="cross_entropy").fit(X, y + 0.5)
    with pytest.raises(ValueError, match="continuous"):
        MLP().fit(X, y + 0.5)  # MLP's task= names the loss


@pytest.mark.parametrize("y, task", [
    (np.array([1.5, 2.25, 3.0]), "regression"), (np.array([151.0, 75.0, 141.0]), "regression"),
    (np.array([0.0, 1.0, 1.0]), None), (np.array([0, 1, 2]), None), (np.array(["a", "b"]), "classification"),
    (None, None),
])
def test_the_task_is_read_from_y_only_where_it_is_plain(y, task):
    assert task_of_y(y) == task
