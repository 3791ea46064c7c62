"""Parameter estimation: priors, conjugate posteriors, MLE/MAP per node, gradient fitting, EM.

``BayesNet.fit`` is :func:`fit_network`; the likelihood splits per node when the data are fully
observed (eqs. 30–31), so each factor is fitted from its own sufficient statistics.
"""

from . import neural_mixture, priors
from .em import EM, marginal_log_likelihood
from .fit import FitReport, fit_network
from .gradient import Trainer
from .montecarlo import Estimate, marginal_likelihood_mc
from .posteriors import BetaPosterior, DirichletPosterior, NormalGammaPosterior, NormalPosterior
from .priors import K2, BDeu, Beta, Dirichlet, Gaussian, Laplace, Normal, NormalGamma
from .scores import local_scores, structure_score

__all__ = [
    "fit_network",
    "FitReport",
    "EM",
    "marginal_log_likelihood",
    "Trainer",
    "Estimate",
    "marginal_likelihood_mc",
    "BetaPosterior",
    "DirichletPosterior",
    "NormalPosterior",
    "NormalGammaPosterior",
    "priors",
    "Beta",
    "Dirichlet",
    "BDeu",
    "K2",
    "Normal",
    "NormalGamma",
    "Gaussian",
    "Laplace",
    "neural_mixture",
    "structure_score",
    "local_scores",
]
