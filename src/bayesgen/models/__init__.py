"""The classic Bayesian networks of the seed (§2.1.3, §2.2.1) as fast, fixed-shape models.

Each has ``fit`` (returning ``self``), ``log_prob``/``score_samples``, ``sample`` and a
``network`` property giving the DAG of the seed's figure.
"""

from .hmm import HMM
from .kde import KDE, EmpiricalDistribution
from .markov import MarkovChain, NGramLM
from .mixture import GaussianMixture
from .naive_bayes import NaiveBayes
from .spelling import SpellingModel
from .tagger import HMMTagger

__all__ = [
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
