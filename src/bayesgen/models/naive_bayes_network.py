"""Naive Bayes as the Bayesian network of figure 3 (eq. 10): y → x_1, …, x_D.

    p(x, y) = p(y) Π_d p(x_d | y)

Every fitted feature becomes a factor of the class y: a Gaussian (x_d | y = c ~ N(θ_cd,
σ²_cd)), a Table (Bernoulli: states 0/1; categorical: K_d states), or, for the multinomial
family, one vector node of counts whose factor is the family's Multinomial (the counts are
exchangeable draws from one vocabulary, not independent features).
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor
from torch.distributions import Distribution

from ..factors import Table
from ..factors.base import Factor
from ..network import BayesNet
from ..variables import Continuous, Discrete

__all__ = ["MultinomialCounts", "naive_bayes_network", "feature_names"]


class MultinomialCounts(Factor):
    """p(x | y = c) = n! / Π_d x_d! Π_d θ_cd^{x_d}, n = Σ_d x_d, for a count vector x."""

    def __init__(self, variable: Continuous, parent: Discrete, family):
        super().__init__(variable, [parent])
        self.family = family

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Distribution:
        # torch's Multinomial.log_prob reads n from each value, so one total_count serves all
        return self.family(parents[self.parents[0].name].long())


def feature_names(model) -> list[str]:
    """x1..xD, or the DataFrame's column names the model was fitted on."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    return [f"x{d + 1}" for d in range(model.n_features_in_)]


def naive_bayes_network(model) -> BayesNet:
    """The fitted :class:`~bayesgen.models.NaiveBayes` as a BayesNet (see the module)."""
    names = feature_names(model)
    y = Discrete("y", [str(c) for c in model.classes_])
    factors: list[Factor] = [Table(y, probs=model.class_log_prior_.exp())]
    by_column: dict[int, Factor] = {}
    for fam in model.families_.values():
        by_column.update(fam.network_factors(y, names))
    factors += [by_column[j] for j in sorted(by_column)]
    return BayesNet(factors, name="naive Bayes")
