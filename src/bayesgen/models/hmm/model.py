"""The HMM estimator: parameters, learning (counts, Baum–Welch), scoring, decoding, sampling.

The hidden chain has ``startprob_`` π_k = p(z_1 = k) and ``transmat_`` A_jk =
p(z_t = k | z_{t-1} = j); a second-order chain (``order=2``) adds ``transmat2_``
A_ijk = p(z_t = k | z_{t-2} = i, z_{t-1} = j) for t ≥ 3 (then ``transmat_`` is only the step
z_1 -> z_2). Emissions p(x_t | z_t) are categorical (``emissionprob_``, shape (K, M)) or Gaussian
with diagonal covariance (``means_`` and ``covars_``, each (K, D)); names follow hmmlearn, except
that ``covars_`` holds the diagonal variances.

``fit`` counts when every state is labelled (supervised MLE); otherwise it runs Baum–Welch:
the E-step ``summarize`` (expected counts by forward–backward, with labelled states clamped) and
the M-step ``from_summaries`` (normalized counts, plus ``pseudocount``; Gaussian means and
variances), with ``n_init`` random restarts.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Categorical, Distribution

from ..._checks import check_dtype, check_int, check_option, check_real
from ...factors import Table
from ...graph import time_layout
from ...network import BayesNet
from ...variables import Discrete
from ..base import Model, forked_rng
from ..mixture.errors import NotFittedError
from ._input import Chunk, Flat, flatten, make_chunks, to_tensor
from .baum_welch import baum_welch
from .emissions import EMISSIONS, Emission, emission_likelihoods, make_emission
from .recursions import viterbi
from .segmented import loglik_block_length, use_segmented, viterbi_segmented
from .statistics import count_stats, empty_stats, log_likelihood, normalize, posterior

__all__ = ["EMISSIONS", "HMM"]


class HMM(Model):
    """Hidden Markov model z1 -> z2 -> ... with emissions zt -> xt (seed eq. 12).

    Parameters
    ----------
    n_components : number of hidden states K.
    emission : an :class:`~bayesgen.models.hmm.emissions.Emission` or its name, "categorical"
        (symbols 0..n_features-1) or "gaussian" (diagonal covariance).
    n_features : M symbols (categorical) or D dimensions (gaussian); inferred by ``fit`` if None.
    order : 1 (first-order chain) or 2 (second-order, trigram transitions ``transmat2_``).
    n_iter, tol : Baum–Welch stops after ``n_iter`` iterations or when the total log-likelihood
        improves by less than ``tol`` (as hmmlearn).
    n_init : number of random restarts; the run with the best final log-likelihood is kept.
    pseudocount : added to every expected count before normalizing (a Dirichlet(1 + pseudocount)
        MAP estimate); 0 is maximum likelihood.
    covars_prior, min_covar : the diagonal variance update is (covars_prior + Σ γ (x - μ)²) / Σ γ,
        as hmmlearn's default prior; ``min_covar`` is added to the initial variances.
    warm_start : start EM from the current parameters when the model is already fitted.
    random_state : seed for initialization and restarts.

    Data: ``X`` is either concatenated sequences with hmmlearn's ``lengths`` (categorical (N,) or
    (N, 1), gaussian (N, D)), a padded batch with ``mask`` (categorical (B, T), gaussian
    (B, T, D); ``mask`` (B, T) True on each sequence's steps, a prefix of each row), a batch of
    equal-length sequences without ``mask``, or a list of sequences. NaN marks a missing
    observation (a whole step, or single dimensions of a gaussian step); it is marginalized.
    ``labels`` (same layout, -1 = unknown) clamps the hidden state where it is known.
    """

    startprob_: Tensor
    transmat_: Tensor
    transmat2_: Tensor
    emissionprob_: Tensor
    means_: Tensor
    covars_: Tensor

    _PARAMS = ("startprob_", "transmat_", "transmat2_", "emissionprob_", "means_", "covars_")

    def __init__(
        self,
        n_components: int,
        emission: str | Emission = "categorical",
        *,
        n_features: int | None = None,
        order: int = 1,
        n_iter: int = 100,
        tol: float = 1e-2,
        n_init: int = 1,
        pseudocount: float = 0.0,
        covars_prior: float = 1e-2,
        min_covar: float = 1e-3,
        warm_start: bool = False,
        random_state: int | None = None,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device | None = None,
    ):
        super().__init__()
        self.n_components = check_int(
            "n_components", n_components, low=1, expected="a positive integer"
        )
        # the emission's object does the work; the attribute keeps hmmlearn's string
        self._emission = make_emission(emission)
        self.emission = self._emission.name
        self.order = check_option("order", order, (1, 2), expected="1 or 2")
        self.n_features = check_int("n_features", n_features, low=1, optional=True)
        self.n_iter = check_int("n_iter", n_iter, low=1)
        self.n_init = check_int("n_init", n_init, low=1)
        self.tol = check_real("tol", tol, low=0)
        self.pseudocount = check_real("pseudocount", pseudocount, low=0)
        self.covars_prior = check_real("covars_prior", covars_prior, low=0)
        self.min_covar = check_real("min_covar", min_covar, low=0)
        self.warm_start = warm_start
        self.random_state = random_state
        self.dtype = check_dtype("dtype", dtype)
        self._device = torch.device(device) if device is not None else torch.device("cpu")
        for name in self._PARAMS:
            self.register_buffer(name, None)

    # ------------------------------------------------------------------ parameters
    def __setattr__(self, name, value):
        # allow ``model.transmat_ = numpy_array`` as in hmmlearn
        if name in HMM._PARAMS and value is not None and not isinstance(value, Tensor):
            value = torch.as_tensor(np.asarray(value, dtype=float), dtype=self.dtype)
        if name in HMM._PARAMS and isinstance(value, Tensor):
            value = value.to(device=self.device, dtype=self.dtype)
        super().__setattr__(name, value)

    @property
    def device(self) -> torch.device:
        for name in self._PARAMS:
            buf = self._buffers.get(name)
            if buf is not None:
                return buf.device
        return self._device

    def _param_names(self) -> tuple[str, ...]:
        names = ["startprob_", "transmat_"] + (["transmat2_"] if self.order == 2 else [])
        names += list(self._emission.params)
        return tuple(names)

    @property
    def is_fitted(self) -> bool:
        return all(self._buffers.get(n) is not None for n in self._param_names())

    def _check_params(self) -> None:
        """Validate shapes and constraints of the parameters, naming the one that fails."""
        missing = [n for n in self._param_names() if self._buffers.get(n) is None]
        if missing:
            raise NotFittedError(
                f"this HMM is not fitted yet (it has no {', '.join(missing)}): call fit() or set "
                f"the parameters first"
            )
        K = self.n_components
        tol = 1e-6 if self.dtype == torch.float64 else 1e-4
        shapes = {"startprob_": (K,), "transmat_": (K, K), "transmat2_": (K, K, K)}
        F = self._emission.n_features_of(self)
        if self.n_features is None and F > 0:
            self.n_features = F
        shapes.update({name: (K, self.n_features) for name in self._emission.params})
        for name in self._param_names():
            value = getattr(self, name)
            if tuple(value.shape) != shapes[name]:
                raise ValueError(
                    f"{name} must have shape {shapes[name]} (n_components={K}, "
                    f"n_features={self.n_features}), got {tuple(value.shape)}"
                )
            if not torch.isfinite(value).all():
                raise ValueError(f"{name} must be finite, got NaN or inf in {name}")
            if name in self._emission.params and name not in self._emission.stochastic:
                continue
            if (value < 0).any():
                raise ValueError(f"{name} must be non-negative (probabilities), got {value.min()}")
            sums = value.sum(-1)
            bad = (sums - 1).abs() > tol
            if bad.any():
                where = tuple(int(i) for i in bad.nonzero()[0])
                raise ValueError(
                    f"{name} rows must sum to 1 (probability distributions); row {where} "
                    f"sums to {float(sums[where]):.6g}"
                )
        self._emission.check(self)

    @property
    def emission_distribution(self) -> Distribution:
        """p(x | z) for every state z, as a torch distribution with batch shape (K,)."""
        self._check_params()
        return self._emission.distribution(self)

    @property
    def network(self) -> BayesNet:
        """The fitted HMM unrolled over 4 steps (:meth:`unrolled`)."""
        return self.unrolled(4)

    def unrolled(self, T: int) -> BayesNet:
        """The fitted HMM as the Bayesian network of T steps (eq. 12): Tables p(z_1) = π,
        p(z_t | z_{t−1}) = A (order 2: p(z_t | z_{t−2}, z_{t−1}) for t ≥ 3), and emissions
        p(x_t | z_t), a Table (categorical) or a diagonal Gaussian. Its log-density of x_1..x_T
        with the z_t summed out is :meth:`score` of that sequence."""
        check_int("T", T, low=1)
        self._check_params()
        K = self.n_components
        z = [Discrete(f"z{t}", K) for t in range(1, T + 1)]
        x = [self._emission.variable(f"x{t}", self) for t in range(1, T + 1)]
        factors: list = [Table(z[0], probs=self.startprob_)]
        for t in range(1, T):
            if self.order == 2 and t >= 2:
                factors.append(Table(z[t], [z[t - 2], z[t - 1]], probs=self.transmat2_))
            else:
                factors.append(Table(z[t], [z[t - 1]], probs=self.transmat_))
        factors += [self._emission.factor(x[t], z[t], self) for t in range(T)]
        names_z, names_x = [v.name for v in z], [v.name for v in x]
        return BayesNet(factors, name="hidden Markov model", layout=time_layout(names_z, names_x))

    def n_parameters(self) -> int:
        """Free parameters of the factorization (each distribution loses one to normalization)."""
        K, F = self.n_components, self.n_features or 0
        n = (K - 1) + K * (K - 1) + (K * K * (K - 1) if self.order == 2 else 0)
        return n + self._emission.n_parameters(K, F)

    # ------------------------------------------------------------------ data and chunks
    def _flatten(self, X, lengths=None, mask=None, labels=None, *, kind=None) -> Flat:
        """Validate the user's data and concatenate its sequences (see ``_input.flatten``)."""
        return flatten(
            X,
            lengths,
            mask,
            labels,
            kind=kind or self.emission,
            n_components=self.n_components,
            n_features=self.n_features,
            dtype=self.dtype,
            device=self.device,
        )

    def _chunks(self, flat: Flat, kind: str | None = None, blocked: bool = False) -> list[Chunk]:
        """Padded time-major chunks; ``blocked``: long ones in block order for the blocked
        log-likelihood (see ``segmented.loglik_block_length``)."""
        K, order, dtype = self.n_components, self.order, self.dtype
        block_length = partial(loglik_block_length, K=K, order=order, dtype=dtype)
        return make_chunks(
            flat,
            kind or self.emission,
            n_components=K,
            order=order,
            n_features=self.n_features,
            dtype=dtype,
            block_length=block_length if blocked else None,
        )

    def _emissions(self, chunk: Chunk, kind: str | None = None, log: bool = False):
        """E (K, T, B) and its per-step shift (see ``emissions.emission_likelihoods``)."""
        if kind is None:
            return self._emission.likelihoods(chunk, self, log)
        return emission_likelihoods(chunk, kind, self, log=log)

    def _transmat2(self) -> Tensor | None:
        return self.transmat2_ if self.order == 2 else None

    def _posterior(
        self, chunk: Chunk, E: Tensor, shift, stats: dict | None, need_gamma: bool = False
    ):
        """Forward–backward on one chunk (see ``statistics.posterior``)."""
        return posterior(
            chunk,
            E,
            shift,
            self.startprob_,
            self.transmat_,
            self._transmat2(),
            emission=self._emission,
            n_features=self.n_features,
            stats=stats,
            need_gamma=need_gamma,
        )

    # ------------------------------------------------------------------ learning
    def _empty_stats(self) -> dict:
        return empty_stats(
            self.n_components, self.n_features, self.order, self._emission, self.dtype, self.device
        )

    def _summarize_chunks(self, chunks: list[Chunk]) -> dict:
        stats = self._empty_stats()
        for chunk in chunks:
            E, shift = self._emissions(chunk)
            self._posterior(chunk, E, shift, stats)
        return stats

    def _count_stats(self, flat: Flat) -> dict:
        return count_stats(
            flat, self.n_components, self.n_features, self.order, self._emission, self.dtype
        )

    def summarize(self, X, lengths=None, *, mask=None, labels=None) -> dict:
        """Expected sufficient statistics under the current parameters (the E-step).

        Keys: ``start`` (K,) E[#z_1=k]; ``trans`` (K, K) E[#(z_{t-1}=j, z_t=k)] (for order 2 only
        t = 2); ``trans2`` (K, K, K) E[#(z_{t-2}, z_{t-1}, z_t)]; ``counts`` (K, M) E[#(z=k, x=m)]
        or ``post``/``obs``/``obs**2`` (K, D) Σγ, Σγx, Σγx² over observed values; ``loglik`` the
        total log-likelihood. Fully labelled data gives plain counts without inference.
        """
        flat = self._flatten(X, lengths, mask, labels)
        if self._fully_labelled(flat):
            if self.n_features is None:
                self._infer_n_features(flat)
            return self._count_stats(flat)
        self._check_params()
        return self._summarize_chunks(self._chunks(flat))

    def from_summaries(self, stats: dict) -> HMM:
        """The M-step: maximum-likelihood (or pseudocount MAP) parameters from statistics.

        π, A, A2, B are the normalized counts (+ pseudocount); Gaussian μ = Σγx / Σγ and
        σ² = (covars_prior + Σγ(x - μ)²) / Σγ, a state without data keeping its old values.
        """
        a = self.pseudocount
        self.startprob_ = normalize(stats["start"] + a)
        self.transmat_ = normalize(stats["trans"] + a)
        if self.order == 2:
            self.transmat2_ = normalize(stats["trans2"] + a)
        self._emission.m_step(self, stats)
        return self

    def _fully_labelled(self, flat: Flat) -> bool:
        return flat.labels is not None and bool((flat.labels >= 0).all())

    def _infer_n_features(self, flat: Flat) -> None:
        self.n_features = self._emission.infer_n_features(flat)

    def fit(self, X, lengths=None, *, mask=None, labels=None) -> HMM:
        """Fit by supervised MLE (``labels`` everywhere), or Baum–Welch EM otherwise.

        Partially labelled data (``labels`` with -1 where unknown) runs EM with the known states
        clamped. ``history_`` holds the log-likelihood at each EM iteration.
        """
        flat = self._flatten(X, lengths, mask, labels)
        if self.n_features is None:
            self._infer_n_features(flat)
        if self._fully_labelled(flat):
            self.from_summaries(self._count_stats(flat))
            self.history_ = [float(self._score_flat(flat).sum())]
            self.n_iter_, self.converged_ = 1, True
            return self
        baum_welch(self, flat)
        return self

    # ------------------------------------------------------------------ queries
    def _score_flat(self, flat: Flat) -> Tensor:
        """log p(x) (B,) of flattened sequences (the caller has checked the parameters)."""
        out = torch.empty(len(flat.lengths), dtype=self.dtype, device=self.device)
        for chunk in self._chunks(flat, blocked=True):
            E, shift = self._emissions(chunk)
            out[chunk.seq] = log_likelihood(
                chunk, E, shift, self.startprob_, self.transmat_, self._transmat2()
            )
        return out

    def log_prob(self, X, lengths=None, *, mask=None, labels=None) -> Tensor:
        """log p(x) of each sequence, shape (B,) (with ``labels``: log p(x, z_labelled))."""
        self._check_params()
        return self._score_flat(self._flatten(X, lengths, mask, labels))

    def score(self, X, lengths=None, *, mask=None, labels=None) -> float:
        """Total log-likelihood Σ_b log p(x_b) (hmmlearn's ``score``)."""
        return float(self.score_samples(X, lengths, mask=mask, labels=labels).sum())

    def predict_proba(self, X, lengths=None, *, mask=None, labels=None):
        """Posterior marginals γ_t(k) = p(z_t = k | x), in the layout of X plus a K axis."""
        self._check_params()
        flat = self._flatten(X, lengths, mask, labels)
        out = torch.empty(len(flat.values), self.n_components, dtype=self.dtype, device=self.device)
        for chunk in self._chunks(flat):
            E, shift = self._emissions(chunk)
            _, gamma, dead = self._posterior(chunk, E, shift, None, need_gamma=True)
            if dead.any():
                b = int(dead.any(0).nonzero()[0])
                raise ValueError(
                    f"sequence {int(chunk.seq[b])} has probability 0 under the model; its "
                    "posterior is undefined"
                )
            out[chunk.index[chunk.mask]] = gamma.permute(1, 2, 0)[chunk.mask]  # (n, K)
        return flat.unflatten(out, 0.0)

    def _viterbi(self, logE: Tensor, chunk: Chunk) -> tuple[Tensor, Tensor]:
        """Best log-joint (B,) and states (T, B) of a chunk, by the segmented route when the
        chunk is a few long sequences."""
        if logE.dim() == 3 and use_segmented(logE, chunk.active, self.order):
            return viterbi_segmented(logE, self.startprob_, self.transmat_)
        return viterbi(
            logE, chunk.mask, chunk.active, self.startprob_, self.transmat_, self._transmat2()
        )

    def _decode_flat(self, flat: Flat, kind: str | None = None) -> tuple[Tensor, Tensor]:
        """Viterbi log-joints (B,) and states (N,) (the caller has checked the parameters)."""
        states = torch.empty(len(flat.values), dtype=torch.long, device=self.device)
        logp = torch.empty(len(flat.lengths), dtype=self.dtype, device=self.device)
        for chunk in self._chunks(flat, kind):
            logE, shift = self._emissions(chunk, kind, log=True)
            lp, st = self._viterbi(logE, chunk)
            full = chunk.active[-1] == len(chunk.seq)  # no padding
            if shift is not None:
                lp = lp + (shift.sum(0) if full else (shift * chunk.mask).sum(0))
            logp[chunk.seq] = lp
            if full:
                states[chunk.index.reshape(-1)] = st.reshape(-1)
            else:
                states[chunk.index[chunk.mask]] = st[chunk.mask]
        return logp, states

    def decode(self, X, lengths=None, *, mask=None, labels=None, algorithm: str = "viterbi"):
        """Most probable state sequence: ``(log_prob, states)`` as hmmlearn.

        ``algorithm="viterbi"`` maximizes the joint p(x, z) (log_prob = max log p(x, z), summed
        over sequences); ``"map"`` takes argmax_k γ_t(k) per step (log_prob = Σ log max γ).
        """
        self._check_params()
        flat = self._flatten(X, lengths, mask, labels)
        if algorithm == "viterbi":
            logp, states = self._decode_flat(flat)
            return float(logp.sum()), flat.unflatten(states, -1)
        elif algorithm == "map":
            gamma = self.predict_proba(X, lengths, mask=mask, labels=labels)
            g = torch.cat(gamma) if isinstance(gamma, list) else gamma
            best, states = g.max(-1)
            if flat.layout[0] == "padded":
                keep = flat.layout[1]
                return float(torch.log(best[keep]).sum()), torch.where(keep, states, -1)
            lp = float(torch.log(best).sum())
            return lp, flat.unflatten(states.reshape(-1), -1)
        else:
            raise ValueError(f"algorithm must be 'viterbi' or 'map', got {algorithm!r}")

    def predict(self, X, lengths=None, *, mask=None, labels=None):
        """Viterbi state sequence, in the layout of X (-1 at padding)."""
        return self.decode(X, lengths, mask=mask, labels=labels)[1]

    def decode_emissions(self, log_emission, lengths=None, *, mask=None):
        """Viterbi with precomputed emission log-likelihoods log p(x_t | z_t = k).

        ``log_emission`` is (N, K) with ``lengths``, (B, T, K) with ``mask``, or a list of (T, K):
        for emission models this class does not have (e.g. a tagger's unknown-word model). For
        ``order=2`` it may also be pair scores log p(x_t | z_{t-1} = j, z_t = k), (N, K, K) with
        ``lengths`` (an emission that also depends on the previous state, or any factor of
        (z_{t-1}, z_t, x): the network gains the edges z_{t-1} -> x_t); at the first step of a
        sequence only j = 0 is read. Returns ``(log_prob, states)``, log_prob per sequence (B,).
        """
        self._check_params()
        K = self.n_components
        kind = "logemission"
        le = to_tensor(log_emission, "log_emission") if not isinstance(log_emission, list) else None
        if le is not None and lengths is not None and le.dim() == 3:
            if self.order != 2 or tuple(le.shape[1:]) != (K, K):
                raise ValueError(
                    f"pair log_emission (N, K, K) needs order=2 and K={K}, got shape "
                    f"{tuple(le.shape)} with order={self.order}"
                )
            log_emission, kind = le.reshape(len(le), K * K), "logemission2"
        flat = self._flatten(log_emission, lengths, mask, kind=kind)
        logp, states = self._decode_flat(flat, kind)
        return logp, flat.unflatten(states, -1)

    def sample(
        self, n: int = 1, *, length: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """n sequences of ``length`` steps: X (n, length) categorical, (n, length, D) gaussian
        (:meth:`sample_joint` without the states)."""
        return self.sample_joint(n, length=length, generator=generator)[0]

    def sample_joint(
        self, n: int = 1, *, length: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Ancestral sampling z_1 → z_2 → ..., x_t | z_t: returns ``(X, Z)``, X as
        :meth:`sample` and the states Z (n, length)."""
        self._check_params()
        B = check_int("n", n, low=1)
        T = check_int("length", length, low=1)
        with forked_rng(generator, self.device):
            Z = torch.empty(B, T, dtype=torch.long, device=self.device)  # (B, T)
            Z[:, 0] = Categorical(probs=self.startprob_).sample((B,))
            rows = torch.arange(B, device=self.device)
            if T > 1:
                nxt = Categorical(probs=self.transmat_).sample((B,))  # (B, K)
                Z[:, 1] = nxt[rows, Z[:, 0]]
            K = self.n_components
            if T > 2 and self.order == 1 and (T - 2) * B * K <= 2**24:
                # a successor for every possible current state, all steps at once; the loop
                # over time only picks the one drawn for the state reached
                draws = Categorical(probs=self.transmat_).sample((T - 2, B))  # (T-2, B, K)
                for t in range(2, T):
                    Z[:, t] = draws[t - 2, rows, Z[:, t - 1]]
            elif T > 2:
                for t in range(2, T):
                    if self.order == 2:
                        probs = self.transmat2_[Z[:, t - 2], Z[:, t - 1]]  # (B, K)
                    else:
                        probs = self.transmat_[Z[:, t - 1]]
                    Z[:, t] = Categorical(probs=probs).sample()
            X = self._emission.sample(self, Z)  # (B, T[, D])
        return X, Z

    def extra_repr(self) -> str:
        return (
            f"n_components={self.n_components}, emission={self.emission!r}, "
            f"n_features={self.n_features}, order={self.order}"
        )
