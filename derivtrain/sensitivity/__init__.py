"""Sensitivity analysis: which input features a trained model's output depends on, and how much.

derivtrain's own input gradients (gradients.py): saliency |ds/dx|, gradient x input, SmoothGrad,
and the full Jacobian of multi-output models (torch.func.vmap over jacrev). Integrated gradients
with its completeness gap (integrated_gradients.py): exact, piece by piece between the ReLU kinks,
for ReLU MLPs and linear models (piecewise_ig.py), Captum's quadrature otherwise. Adapters around
Captum (captum_methods.py): DeepLift, feature ablation, feature permutation, Kernel SHAP, NoiseTunnel.

Conventions, for every method:

- Attributions are with respect to the model's own input: the standardized features
  z = (x - mean) / scale, fitted on the training rows (see explained.py for what that means for
  each method). Baseline "mean" is z = 0, the training mean.
- The explained score is one class score per row: the predicted class by default, or the true
  class, or a chosen class. A binary model's single score s counts as +s for classes_[1] and -s
  for classes_[0]. Regression explains the prediction.
- Captum and matplotlib are imported only when an analysis runs: this package's import is cheap.

    from derivtrain.sensitivity import attribute
    result = attribute(model, X_standardized, "integrated_gradients", n_steps=64)
    result.values, result.delta
"""
__all__ = ["attribute", "Attribution", "make_analysis", "saliency", "grad_x_input", "smoothgrad", "jacobian",
           "input_gradients", "ClassScores"]


def __getattr__(name):
    # lazy: importing the package stays cheap (Captum, matplotlib and the methods load when used)
    if name in ("attribute", "Attribution"):
        from derivtrain.sensitivity import methods

        return getattr(methods, name)
    if name == "make_analysis":
        from derivtrain.sensitivity.analysis import make_analysis

        return make_analysis
    if name in ("saliency", "grad_x_input", "smoothgrad", "jacobian", "input_gradients"):
        from derivtrain.sensitivity import gradients

        return getattr(gradients, name)
    if name == "ClassScores":
        from derivtrain.sensitivity.explained import ClassScores

        return ClassScores
    raise AttributeError(f"module 'derivtrain.sensitivity' has no attribute {name!r}")
