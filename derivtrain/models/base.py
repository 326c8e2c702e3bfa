"""What every derivtrain model is: an nn.Module that is also a scikit-learn style estimator.

The contract a model (a plugin's too) keeps, checked when a config is composed
(derivtrain/contracts.py):

    class            a subclass of Model (or LinearModel: scores = X W^T + b in `self.linear`, which
                     the certified solver and the optimality certificate can use)
    __init__(spec, **keys)   spec is the data's DataSpec (n_features, classes, n_outputs, task,
                     feature_names), passed to Model.__init__; the other parameters are the model
                     config's keys (checked against this signature)
    tasks            the tasks it serves: a tuple of "classification", "regression", "density"
    forward(X)       standardized features (n, n_features) -> scores: (n,) for one output (regression,
                     binary), else (n, n_outputs); `scores_of` does the squeeze
    penalized_parameters()   what the regularizer penalizes (default: every parameter but biases)

Its natural loss and regularizer are its config file's business (conf/model/*.yaml: `override
/loss: ...`). A model that serves several tasks names one loss per task in `natural_losses`
({"classification": "cross_entropy", "regression": "mse"}: option names of the loss group, a
plugin's too); when the command line chooses no loss, the data's task picks one of them as the
config is composed (derivtrain/config/natural_loss.py). Optional: `initialize(X, generator)` (a data-dependent start), `m_step` (fits by EM),
`mean_response(scores)` (predictions on another scale than the scores, e.g. Poisson's rates).

`forward` takes standardized features (what training feeds it). The standardization fitted on
the training rows lives in the module's buffers, so `decision_function`, `predict` and
`predict_proba` take raw features, as numpy arrays or tensors, and the checkpoint carries it all.

A regression model's scores are in fitted units: the targets it was fitted on are
(y - target_mean) / target_scale (derivtrain/data/targets.py says when each is not 0 and 1), so
`decision_function` and `predict` return scores * target_scale + target_mean, in float64: the
data's units. A model whose output cannot absorb a shifted and scaled target (no unpenalized
output bias, or scores on another scale than y, as Poisson's log-rates) sets
`fits_scaled_targets = False` and is fitted on y as given.
"""
import numpy as np
import torch
from torch import nn

from derivtrain.data.table import DataSpec

FEATURE_STATISTICS = ("feature_mean", "feature_scale")
# a regression target's mean and scale on the training rows (0-d; 0 and 1 when not applied, and in
# checkpoints written before they existed: derivtrain/saved.py fills them in)
TARGET_STATISTICS = ("target_mean", "target_scale")
# buffers kept float64 whatever the weights' dtype: statistics of raw data, applied in float64
FLOAT64_STATISTICS = FEATURE_STATISTICS + TARGET_STATISTICS
_NOT_FINITE = "Input X contains NaN or infinity (or a value too large for float32); clean or drop those rows first"


class Model(nn.Module):
    #: losses this model is meant for (a mismatched loss is a configuration error)
    tasks = ("classification", "regression")
    #: task -> loss option name used when the command line chooses none ({}: the config file's loss)
    natural_losses: dict = {}
    #: regression targets may be fitted centred and scaled (module docstring)
    fits_scaled_targets = True

    def __init__(self, spec: DataSpec):
        super().__init__()
        self.spec = spec
        self.classes_ = list(spec.classes)
        self.feature_names_in_ = list(spec.feature_names)
        # float64 whatever the weights' dtype (see _apply): a raw 3e7 + N(0, 1) column rounded to
        # float32 before centring keeps a handful of distinct values
        self.register_buffer("feature_mean", torch.zeros(spec.n_features, dtype=torch.float64))
        self.register_buffer("feature_scale", torch.ones(spec.n_features, dtype=torch.float64))
        self.register_buffer("target_mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("target_scale", torch.ones((), dtype=torch.float64))
        self.probability_link = None  # set from the loss: "logistic" when trained by cross-entropy
        self.config = None  # the resolved run config, set by load_run

    def set_standardization(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        self.feature_mean.copy_(mean)
        self.feature_scale.copy_(scale)

    def set_target_scaling(self, mean, scale) -> None:
        """The regression targets' (mean, scale) the model is fitted on (derivtrain/data/targets.py)."""
        self.target_mean.fill_(float(mean))
        self.target_scale.fill_(float(scale))

    def in_target_units(self, scores: torch.Tensor) -> torch.Tensor:
        """Fitted scores -> the data's units, in float64 (a regression model's; others as they are)."""
        if self.spec.task != "regression" or not self.fits_scaled_targets:
            return scores
        return scores.to(torch.float64) * self.target_scale + self.target_mean

    def _apply(self, fn, recurse=True):
        """model.to(device, dtype), .float(), .half() move the standardization's buffers but keep
        them float64: they are statistics of the raw features (and targets), applied in float64."""
        stats = {name: self._buffers[name] for name in FLOAT64_STATISTICS if name in self._buffers}
        super()._apply(fn, recurse)
        for name, exact in stats.items():
            moved = self._buffers[name]
            if moved is not None and moved.dtype != torch.float64 and exact is not None:
                self._buffers[name] = exact.to(device=moved.device, dtype=torch.float64)
        return self

    def output_layer(self):
        """The nn.Linear whose outputs are the scores, where the model has one (None: it does not say)."""
        return None

    @torch.no_grad()
    def fold_target_scaling(self) -> bool:
        """Fold target_mean and target_scale into the output layer, leaving 0 and 1: the parameters
        then predict in the data's units themselves. Float64 weights only (a bias around 1e7 in float32
        keeps steps of 1); returns whether it folded."""
        layer = self.output_layer()
        if layer is None or layer.bias is None or layer.weight.dtype != torch.float64:
            return False
        if float(self.target_mean) == 0.0 and float(self.target_scale) == 1.0:
            return True  # nothing to fold (classifiers, counts, targets fitted as given)
        scale, mean = self.target_scale.to(layer.weight.device), self.target_mean.to(layer.weight.device)
        layer.weight.mul_(scale)
        layer.bias.mul_(scale).add_(mean)
        self.set_target_scaling(0.0, 1.0)
        return True

    @property
    def weight_dtype(self) -> torch.dtype:
        """The dtype the model computes in (its first floating parameter's; float32 without any)."""
        return next((p.dtype for p in self.parameters() if p.is_floating_point()), torch.float32)

    def standardize(self, Xt: torch.Tensor) -> torch.Tensor:
        """Raw features -> what forward takes: centred and scaled in float64, then rounded to the
        model's dtype (the CLI's data path does the same, derivtrain/data/in_memory.py)."""
        exact = (Xt.to(torch.float64) - self.feature_mean) / self.feature_scale
        return exact.to(self.weight_dtype)

    @staticmethod
    def scores_of(outputs):
        """(n, 1) -> (n,): one score per row for regression and binary problems; (n, K) stays."""
        return outputs.squeeze(1) if outputs.shape[1] == 1 else outputs

    def penalized_parameters(self):
        """Weights, not biases: what a regularizer penalizes."""
        return [p for name, p in self.named_parameters() if not name.endswith("bias")]

    def regularization_strength(self, n_train: int, strength: float) -> float:
        """The penalty strength to train with: regularizer.strength, unless the model's own keys set
        it (model=svm: C or alpha)."""
        return strength

    # ---- estimator API on raw features -------------------------------------------------------
    @torch.no_grad()
    def decision_function(self, X):
        """Scores for raw features: one per row (regression, binary) or one per class; a regression
        model's in the targets' units (float64)."""
        was_training = self.training
        self.eval()
        try:
            scores = self.in_target_units(self(self._standardized(X)))
        finally:
            self.train(was_training)
        return scores.cpu().numpy() if isinstance(X, np.ndarray) or not torch.is_tensor(X) else scores

    def _standardized(self, X) -> torch.Tensor:
        if hasattr(X, "tocsr"):  # scipy sparse rows (a model trained on data=svmlight/npz): kept sparse
            from derivtrain.data.sparse_centring import standardized_csr

            if X.shape[1] != self.feature_scale.shape[0]:
                raise ValueError(f"expected features of shape (n_samples, {self.feature_scale.shape[0]}), "
                                 f"got {tuple(X.shape)}")
            return standardized_csr(X, self.feature_mean.cpu().numpy(), self.feature_scale.cpu().numpy(),
                                    self.weight_dtype, self.feature_scale.device)
        return self.standardize(self._as_tensor(X))

    def predict(self, X):
        scores = self.decision_function(X)
        if not self.classes_:
            return scores
        s = torch.as_tensor(scores)
        index = (s > 0).long() if s.dim() == 1 else s.argmax(dim=1)
        labels = np.asarray(self.classes_, dtype=object if isinstance(self.classes_[0], str) else None)
        out = labels[index.cpu().numpy()]
        if not torch.is_tensor(scores) or labels.dtype == object:  # a tensor cannot hold strings: numpy's array
            return out
        return torch.as_tensor(out, device=scores.device)

    @property
    def predict_proba(self):
        """Class probabilities; present only for classifiers trained by a likelihood (cross-entropy)."""
        if self.probability_link is None or not self.classes_:
            raise AttributeError("predict_proba exists only for classifiers trained with loss=cross_entropy")
        return self._predict_proba

    def _predict_proba(self, X):
        scores = self.decision_function(X)
        s = torch.as_tensor(scores)
        if s.dim() == 1:
            p1 = torch.sigmoid(s)
            proba = torch.stack([1 - p1, p1], dim=1)
        else:
            proba = torch.softmax(s, dim=1)
        return proba.cpu().numpy() if not torch.is_tensor(scores) else proba

    def _as_tensor(self, X) -> torch.Tensor:
        ref = self.feature_mean
        if hasattr(X, "columns") and not torch.is_tensor(X):  # a DataFrame (pandas or alike): columns by name
            X = self._columns_by_name(X)
        if not torch.is_tensor(X):
            X = np.asarray(X, dtype=np.float64)
            # as scikit-learn: no silent predictions for NaN rows (nor for values float32 turns into inf)
            if X.size and not (np.isfinite(X).all() and np.abs(X).max() <= np.finfo(np.float32).max):
                raise ValueError(_NOT_FINITE)
        Xt = torch.from_numpy(np.array(X, dtype=np.float64)) if not torch.is_tensor(X) else X  # a copy: writable
        if Xt.dim() != 2 or Xt.shape[1] != ref.shape[0]:
            raise ValueError(f"expected features of shape (n_samples, {ref.shape[0]}), got {tuple(Xt.shape)}")
        if Xt.is_floating_point() and not torch.isfinite(Xt).all():
            raise ValueError(_NOT_FINITE)
        return Xt.to(device=ref.device, dtype=torch.float64)  # raw: standardized before any rounding

    def _columns_by_name(self, frame):
        """The frame's columns in the order the model was trained on (string column names only, as
        scikit-learn; other names are taken by position)."""
        names = [c for c in frame.columns]
        if not self.feature_names_in_ or not all(isinstance(c, str) for c in names):
            return np.asarray(frame, dtype=np.float64)
        missing = [n for n in self.feature_names_in_ if n not in names]
        extra = [n for n in names if n not in self.feature_names_in_]
        if missing or extra:
            raise ValueError(f"the columns of X do not match the features the model was trained on: "
                             f"missing {missing[:5]}, unexpected {extra[:5]}")
        return np.asarray(frame[list(self.feature_names_in_)], dtype=np.float64)


class LinearModel(Model):
    """Scores are an affine map of the (standardized) features, s = X W^T + b, held in `self.linear`.

    The convex-model machinery relies on that form: the certified solver (derivtrain/trainer/certified.py)
    and the optimality certificate (derivtrain/convex) read `linear.weight` and `linear.bias`.
    """

    def __init__(self, spec: DataSpec, n_outputs: int):
        super().__init__(spec)
        self.linear = nn.Linear(spec.n_features, n_outputs)

    def output_layer(self):
        return self.linear

    def forward(self, X):
        if X.layout == torch.sparse_csr:  # sparse rows (data=svmlight, data=npz): a hand-written backward
            from derivtrain.models.sparse_linear import sparse_linear

            return self.scores_of(sparse_linear(X, self.linear))
        return self.scores_of(self.linear(X))
