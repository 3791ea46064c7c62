"""A categorical distribution that keeps its probabilities exactly as given.

torch's ``Categorical(probs=...)`` divides ``probs`` by their row sum and scores values through
``logits = log(clamp(probs, eps, 1 − eps))``, so an impossible value gets log p ≈ −36 (float64)
instead of −inf and a certain one −eps instead of 0. A table's rows are already distributions
(validated when the table is built), so here

    p(k)      = probs[..., k]                (no renormalization)
    log p(k)  = log probs[..., k]            (−inf where probs is an exact zero)
    H(p)      = −Σ_k p_k log p_k             (0 log 0 = 0)
    KL(p, q)  = Σ_k p_k log(p_k / q_k)       (0 where p_k = 0, inf where q_k = 0 < p_k)
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import Categorical, Distribution, constraints, register_kl
from torch.distributions.utils import lazy_property

__all__ = ["ExactCategorical"]


class ExactCategorical(Categorical):
    """Categorical over {0, …, K−1} with ``probs`` (*batch, K) kept exactly as given.

    Unlike torch's ``Categorical`` the rows are not renormalized, so they must lie on the simplex
    already (checked, to torch's tolerance of 1e-6, when ``validate_args`` is on);
    ``log_prob`` is ``log probs`` gathered, −inf at exact zeros. Sampling, ``enumerate_support``,
    ``expand``, ``mode`` and the batch/event shapes are torch's: batch ``probs.shape[:-1]``,
    event ().
    """

    arg_constraints = {"probs": constraints.simplex}

    def __init__(self, probs: Tensor, validate_args: bool | None = None) -> None:
        if not isinstance(probs, Tensor):
            raise TypeError(f"probs must be a tensor, got {type(probs).__name__}")
        if probs.dim() < 1:
            raise ValueError("probs must be at least one-dimensional (states on the last axis)")
        self.probs = probs  # (*batch, K), exactly as given
        self._param = probs
        self._num_events = probs.size(-1)
        Distribution.__init__(self, probs.shape[:-1], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> ExactCategorical:
        new = self._get_checked_instance(ExactCategorical, _instance)
        return super().expand(batch_shape, _instance=new)

    @lazy_property
    def logits(self) -> Tensor:
        """log probs, exactly: −inf at zeros (torch's are clamped to log eps)."""
        return self.probs.log()  # (*batch, K)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)  # (*sample, *batch, 1)
        value, probs = torch.broadcast_tensors(value, self.probs)  # (*sample, *batch, K) views
        return probs.gather(-1, value[..., :1]).squeeze(-1).log()  # (*sample, *batch)

    def entropy(self) -> Tensor:
        return -_p_log(self.probs, self.probs).sum(-1)  # (*batch,)


def _p_log(p: Tensor, q: Tensor) -> Tensor:
    """p · log q elementwise, 0 where p = 0 (value and gradient: no 0 · inf NaNs)."""
    nonzero = p > 0
    return p * torch.where(nonzero, q, torch.ones_like(q)).log()


@register_kl(ExactCategorical, ExactCategorical)
def _kl_exact_categorical(p: ExactCategorical, q: ExactCategorical) -> Tensor:
    return (_p_log(p.probs, p.probs) - _p_log(p.probs, q.probs)).sum(-1)  # (*batch,)
