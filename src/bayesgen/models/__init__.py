"""The classic Bayesian networks of the chapter (§2.1.3, §2.2.1) as fast, fixed-shape models.

Each is a :class:`~bayesgen.models.base.Model` (the tagger shares its not-fitted check):
``fit`` returns ``self``, ``log_prob``/``score_samples`` give one value per observation (B,),
``sample(n, *, generator=None, ...)`` draws the observed variables (``sample_joint`` adds the
latent ones), and ``network`` is the fitted model as a Bayesian network of the chapter's figure.
Options are objects (covariance types, kernels, emissions, smoothings, feature families) that
the constructors also accept by name.
"""

from .base import Model
from .hmm import HMM
from .kde import KDE, EmpiricalDistribution
from .markov import MarkovChain, NGramLM
from .mixture import GaussianMixture
from .naive_bayes import NaiveBayes
from .spelling import SpellingModel
from .tagger import HMMTagger

__all__ = [
    "Model",
    "GaussianMixture",
    "NaiveBayes",
    "MarkovChain",
    "NGramLM",
    "HMM",
    "HMMTagger",
    "SpellingModel",
    "KDE",
    "EmpiricalDistribution",
]
