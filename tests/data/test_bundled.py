"""The bundled loaders read scikit-learn's files directly; they must equal sklearn.datasets exactly."""
import numpy as np
import pytest
import sklearn.datasets

from derivtrain.data.bundled import BUNDLED, load_bundled

SKLEARN = {
    "breast_cancer": lambda: sklearn.datasets.load_breast_cancer(),
    "iris": lambda: sklearn.datasets.load_iris(),
    "wine": lambda: sklearn.datasets.load_wine(),
    "digits": lambda: sklearn.datasets.load_digits(),
    "diabetes": lambda: sklearn.datasets.load_diabetes(scaled=False),
}


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_equals_sklearn(name):
    ours, ref = load_bundled(name), SKLEARN[name]()
    np.testing.assert_array_equal(ours.X, ref.data)
    np.testing.assert_array_equal(ours.y, ref.target)
    assert list(ours.feature_names) == list(ref.feature_names)
    assert ours.task == ("regression" if name == "diabetes" else "classification")
    if ours.target_names is not None:
        assert list(ours.target_names) == [str(t) for t in ref.target_names]


def test_unknown_name_suggests_nearest():
    from derivtrain.errors import ConfigError

    with pytest.raises(ConfigError, match="did you mean iris"):
        load_bundled("irs")


def test_loading_does_not_import_sklearn_estimators():
    import subprocess
    import sys

    code = ("import sys; from derivtrain.data.bundled import load_bundled; load_bundled('breast_cancer'); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
