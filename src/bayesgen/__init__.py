"""bayesgen: every generative model is a Bayesian network.

    p(x_1, ..., x_N) = Π_n p(x_n | Pa(x_n))

One network object answers probability queries, samples ancestrally, learns its factors from
data, and scales from the 4-node student network to neural generative models.

The names below are imported on first use (``bayesgen.BayesNet`` loads torch then), so
``import bayesgen`` and the command line's ``--help`` start at once.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it (relative to this package)
_LAZY = {
    "BayesNet": ".network",
    "DAG": ".graph",
    "CycleError": ".errors",
    "MemoryBudgetError": ".errors",
    "NotFittedError": ".errors",
    "ConvergenceWarning": ".errors",
    "DegenerateCovarianceWarning": ".errors",
    "Variable": ".variables",
    "Discrete": ".variables",
    "Continuous": ".variables",
    "Factor": ".factors",
    "Table": ".factors",
    "Gaussian": ".factors",
    "LinearGaussian": ".factors",
    "NeuralFactor": ".factors",
    "NeuralBernoulli": ".factors",
    "NeuralCategorical": ".factors",
    "NeuralNormal": ".factors",
    "ExactInference": ".inference",
    "rejection_sampling": ".inference",
    "likelihood_weighting": ".inference",
    "gibbs_sampling": ".inference",
    "read_bif": ".io",
    "write_bif": ".io",
    "save": ".io",
    "load": ".io",
    "parse_query": ".query",
}
_MODULES = ("examples", "errors")

__all__ = [
    "BayesNet",
    "DAG",
    "CycleError",
    "Variable",
    "Discrete",
    "Continuous",
    "Factor",
    "Table",
    "Gaussian",
    "LinearGaussian",
    "NeuralFactor",
    "NeuralBernoulli",
    "NeuralCategorical",
    "NeuralNormal",
    "ExactInference",
    "MemoryBudgetError",
    "NotFittedError",
    "ConvergenceWarning",
    "DegenerateCovarianceWarning",
    "rejection_sampling",
    "likelihood_weighting",
    "gibbs_sampling",
    "examples",
    "errors",
    "read_bif",
    "write_bif",
    "save",
    "load",
    "parse_query",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
    elif name in _MODULES:
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from . import errors, examples
    from .errors import (
        ConvergenceWarning,
        CycleError,
        DegenerateCovarianceWarning,
        MemoryBudgetError,
        NotFittedError,
    )
    from .factors import (
        Factor,
        Gaussian,
        LinearGaussian,
        NeuralBernoulli,
        NeuralCategorical,
        NeuralFactor,
        NeuralNormal,
        Table,
    )
    from .graph import DAG
    from .inference import (
        ExactInference,
        gibbs_sampling,
        likelihood_weighting,
        rejection_sampling,
    )
    from .io import load, read_bif, save, write_bif
    from .network import BayesNet
    from .query import parse_query
    from .variables import Continuous, Discrete, Variable
