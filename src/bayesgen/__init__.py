"""bayesgen: every generative model is a Bayesian network.

    p(x_1, ..., x_N) = Π_n p(x_n | Pa(x_n))

One network object answers probability queries, samples ancestrally, learns its factors from
data, and scales from the 4-node student network to neural generative models.
"""

from . import examples
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
from .graph import DAG, CycleError
from .inference import (
    ExactInference,
    MemoryBudgetError,
    gibbs_sampling,
    likelihood_weighting,
    rejection_sampling,
)
from .io import load, read_bif, save, write_bif
from .network import BayesNet
from .query import parse_query
from .variables import Continuous, Discrete, Variable

__version__ = "0.1.0"

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
    "rejection_sampling",
    "likelihood_weighting",
    "gibbs_sampling",
    "examples",
    "read_bif",
    "write_bif",
    "save",
    "load",
    "parse_query",
]
