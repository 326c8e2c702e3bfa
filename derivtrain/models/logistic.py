"""Logistic regression: one logit (binary, sigmoid) or one per class (multinomial, softmax).

Trained with loss=cross_entropy it is maximum likelihood; predict_proba gives the probabilities.
"""
from derivtrain.models.base import LinearModel


class LogisticRegression(LinearModel):
    tasks = ("classification",)

    def __init__(self, spec):
        super().__init__(spec, spec.n_outputs)
