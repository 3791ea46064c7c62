"""Hidden Markov models: the Bayesian network of eq. 12 of the chapter, with fast exact inference.

A hidden Markov model over T steps is the network

    p(x_1..T, z_1..T) = p(z_1) Π_{t>1} p(z_t | z_{t-1}) Π_t p(x_t | z_t),

drawn unrolled as z1 -> z2 -> z3 -> z4 with zt -> xt. The modules, in the order data meets them:

- ``_input``: the user's layouts (concatenated with ``lengths``, padded with ``mask``, a list)
  flattened, validated and cut into time-major chunks of sequences sorted by length;
- ``emissions``: the emission factor p(x_t | z_t) as objects (categorical or diagonal Gaussian):
  likelihoods per chunk, sufficient statistics, M-step, random start, sampler;
- ``recursions``: scaled forward–backward and Viterbi, looping over time, batched over sequences;
- ``segmented``: the same answers in O(√T) sequential steps for a few long sequences;
- ``statistics``: the E-step on a chunk (log-likelihood, posteriors, expected counts) and the
  plain counts of fully labelled data;
- ``model``: :class:`HMM`, the estimator (fit / summarize / from_summaries, score, decode,
  sample).
"""

from .emissions import EMISSIONS, CategoricalEmission, Emission, GaussianEmission, make_emission
from .model import HMM

__all__ = [
    "HMM",
    "EMISSIONS",
    "Emission",
    "CategoricalEmission",
    "GaussianEmission",
    "make_emission",
]
