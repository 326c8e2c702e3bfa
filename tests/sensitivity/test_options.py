"""The analysis config group: every option composes and validates; bad values name key, value, choices."""
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from derivtrain.config import validate
from derivtrain.data.table import DataSpec
from derivtrain.errors import ConfigError
from derivtrain.paths import config_dir
from derivtrain.sensitivity.methods import METHOD_FUNCTIONS, options_of
from derivtrain.config.schemas.analysis import METHODS, OPTIONS, methods_of
from derivtrain.sensitivity.analysis import check_against_data
from tests.conftest import compose_config

CLASSES = DataSpec(task="classification", n_features=3, classes=["a", "b"], feature_names=["f0", "f1", "f2"])
REGRESSION = DataSpec(task="regression", n_features=3, feature_names=["f0", "f1", "f2"])


def test_options_are_the_yaml_files_and_the_method_functions():
    assert sorted(p.stem for p in (Path(config_dir()) / "analysis").glob("*.yaml")) == sorted(OPTIONS)
    assert sorted(METHOD_FUNCTIONS) == sorted(METHODS)


@pytest.mark.parametrize("option", OPTIONS)
def test_every_option_composes_and_validates(option):
    cfg = compose_config(f"analysis={option}", "trainer.seed=7")
    validate(cfg)
    assert cfg.analysis.seed == 7  # the options follow trainer.seed
    assert methods_of(cfg.analysis) == ([] if option == "none" else
                                        list(cfg.analysis.methods) if option == "compare" else [option])
    # each method's options are keys of its config: nothing a method takes is unreachable
    for method in methods_of(cfg.analysis):
        assert set(options_of(method)) <= set(cfg.analysis), method


@pytest.mark.parametrize("overrides,message", [
    (["analysis.method=saliencyy"], "analysis.method=saliencyy is not valid; did you mean saliency?"),
    (["analysis=compare", "analysis.methods=[saliency,deepLift]"], "analysis.methods=deepLift is not valid; did you mean deeplift?"),
    (["analysis=compare", "analysis.methods=[saliency,saliency]"], "analysis.methods lists saliency more than once"),
    (["analysis=compare", "analysis.methods=[]"], "analysis=compare needs analysis.methods=[...]"),
    (["analysis=integrated_gradients", "analysis.n_steps=0"], "analysis.n_steps=0 must be >= 1"),
    (["analysis=integrated_gradients", "analysis.integration=simpson"], "analysis.integration=simpson is not valid"),
    (["analysis=noise_tunnel", "analysis.integration=exact_piecewise"], "noise_tunnel runs Captum's integrated"),
    (["analysis=compare", "analysis.methods=[integrated_gradients,noise_tunnel]",
      "analysis.integration=exact_piecewise"], "takes gausslegendre, riemann_left"),
    (["analysis=smoothgrad", "analysis.noise_stdev=-1"], "analysis.noise_stdev=-1.0 must be >= 0"),
    (["analysis=noise_tunnel", "analysis.base=kernel_shap"], "analysis.base=kernel_shap is not valid; choices:"),
    (["analysis=saliency", "analysis.baseline=median"], "analysis.baseline=median is not valid"),
    (["analysis=saliency", "analysis.target=1.5"], "analysis.target=1.5 is not valid; choices: predicted, true"),
    (["analysis=saliency", "analysis.batch_size=0"], "analysis.batch_size=0 must be >= 1"),
    (["analysis=feature_permutation", "analysis.max_samples=1"], "analysis.max_samples=1 must be >= 2"),
    (["analysis=saliency", "analysis.sanity_threshold=2"], "analysis.sanity_threshold=2.0 must be a rank correlation"),
    (["analysis=saliency", "analysis.method=compare"], "use analysis=compare"),
])
def test_bad_values_are_config_errors(overrides, message):
    with pytest.raises(ConfigError) as info:
        validate(compose_config(*overrides))
    assert message in str(info.value)


def test_choices_that_need_the_data():
    def cfg(**values):
        return OmegaConf.merge(compose_config("analysis=integrated_gradients").analysis, values)

    check_against_data(cfg(target="b", baseline=[1, 2, 3]), CLASSES)
    with pytest.raises(ConfigError, match="analysis.target=c is not valid; choices: .*a, b"):
        check_against_data(cfg(target="c"), CLASSES)
    with pytest.raises(ConfigError, match="analysis.baseline has 2 values but the data has 3 features"):
        check_against_data(cfg(baseline=[0, 0]), CLASSES)
    with pytest.raises(ConfigError, match="regression model has one output"):
        check_against_data(cfg(target="true"), REGRESSION)


def test_make_analysis_checks_the_target_against_the_data_before_training():
    from derivtrain.models.logistic import LogisticRegression
    from derivtrain.sensitivity.analysis import make_analysis

    cfg = compose_config("analysis=saliency", "analysis.target=c")
    with pytest.raises(ConfigError, match="analysis.target=c is not valid"):
        make_analysis(cfg.analysis, LogisticRegression(CLASSES), CLASSES)
    assert make_analysis(compose_config("analysis=none").analysis, LogisticRegression(CLASSES), CLASSES)(
        None, None, None, None) == {}


def test_exact_integration_of_a_smooth_mlp_is_a_config_error_before_training():
    from derivtrain.models.mlp import MLP
    from derivtrain.sensitivity.analysis import make_analysis

    cfg = compose_config("analysis=integrated_gradients", "analysis.integration=exact_piecewise").analysis
    make_analysis(cfg, MLP(CLASSES), CLASSES)  # ReLU, the default: piecewise linear
    with pytest.raises(ConfigError, match="analysis.integration=exact_piecewise needs a model made of Linear and "
                                          "ReLU layers .* not MLP with Tanh; use analysis.integration=auto"):
        make_analysis(cfg, MLP(CLASSES, activation="tanh"), CLASSES)
    # auto (the default) never fails: it falls back to Captum's Gauss-Legendre rule
    assert compose_config("analysis=integrated_gradients").analysis.integration == "auto"
    make_analysis(OmegaConf.merge(cfg, {"integration": "auto"}), MLP(CLASSES, activation="tanh"), CLASSES)
