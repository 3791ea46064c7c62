"""The classic Bayesian networks of the seed (§2.1.3, §2.2.1) as fast, fixed-shape models."""

from importlib import import_module

__all__ = ["GaussianMixture", "NaiveBayes", "MarkovChain", "NGramLM", "HMM", "HMMTagger", "KDE"]

_WHERE = {
    "GaussianMixture": ".mixture",
    "NaiveBayes": ".naive_bayes",
    "MarkovChain": ".markov",
    "NGramLM": ".markov",
    "HMM": ".hmm",
    "HMMTagger": ".tagger",
    "KDE": ".kde",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
