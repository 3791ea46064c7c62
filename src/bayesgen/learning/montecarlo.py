"""Monte Carlo estimates of the marginal likelihood p(x) = E_p(z)[p(x | z)] (eq. 20, §2.4.2).

Simple Monte Carlo draws the unobserved variables z ancestrally, with the observed ones clamped,
and averages the likelihood of the observations:

    p̂(x) = (1/S) Σ_s Π_{n observed} p(x_n | Pa(x_n))|_{z = z_s},        z_s ~ p(z)

(for latent roots and observed leaves this is exactly E_p(z)[p(x|z)]; in general it is likelihood
weighting). Importance sampling draws z from a proposal q(z | x) instead:

    p̂(x) = (1/S) Σ_s p(x, z_s) / q(z_s | x),                            z_s ~ q(z | x)

Both are unbiased; the standard error is the sample standard deviation of the weights over √S.
The optimal proposal, the posterior p(z | x), has zero variance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Distribution

from .._constants import TINY
from ..factors.base import Factor
from ..network import BayesNet
from ..variables import Discrete

__all__ = ["Estimate", "marginal_likelihood_mc"]

Proposal = Mapping[str, Distribution] | Callable[[Mapping[str, Tensor]], Mapping[str, Distribution]]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate per observation row.

    ``value`` p̂(x) (B,), ``stderr`` its standard error (B,), ``log_value`` log p̂(x) computed
    without underflow (B,), ``ess`` the effective sample size (Σ w)² / Σ w² (B,), ``n_samples`` S.
    """

    value: Tensor
    stderr: Tensor
    log_value: Tensor
    ess: Tensor
    n_samples: int

    def interval(self, z: float = 1.96) -> tuple[Tensor, Tensor]:
        """The normal-approximation interval value ± z · stderr."""
        return self.value - z * self.stderr, self.value + z * self.stderr


def _as_network(model: BayesNet | Sequence[Factor]) -> BayesNet:
    if isinstance(model, BayesNet):
        return model
    if isinstance(model, Factor):
        return BayesNet([model])
    if isinstance(model, Sequence) and all(isinstance(f, Factor) for f in model):
        return BayesNet(list(model))
    raise TypeError(
        f"model must be a BayesNet or a sequence of Factors (e.g. (p(z), p(x|z))), "
        f"got {type(model).__name__}"
    )


def _repeat(v: Tensor, s: int) -> Tensor:
    """(B, ...) -> (S·B, ...), sample-major: row s·B + b is row b."""
    return v.repeat(s, *([1] * (v.dim() - 1)))


@torch.no_grad()
def marginal_likelihood_mc(
    model: BayesNet | Sequence[Factor],
    x: Mapping[str, object],
    n_samples: int = 1000,
    proposal: Proposal | None = None,
    *,
    seed: int | None = None,
    context: Tensor | None = None,
) -> Estimate:
    """Estimate p(x) for every row of the observations ``x`` (a mapping or DataFrame of the
    observed variables; the variables it lacks are the latent z).

    ``proposal`` (importance sampling) maps latent names to distributions q(z | x) with batch
    shape (B,) (one per row) or () — or is a callable taking the encoded observations and
    returning that mapping; latents it omits are drawn from their conditionals p(z | Pa(z)).
    """
    net = _as_network(model)
    if not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"n_samples must be an int >= 2, got {n_samples!r}")
    obs = net.encode(x)
    if not obs:
        raise ValueError(f"x observes none of the variables {list(net.variables)}")
    b = next(iter(obs.values())).shape[0]
    latent = [n for n in net.order if n not in obs]
    q = proposal(obs) if callable(proposal) else dict(proposal or {})
    unknown = [n for n in q if n not in latent]
    if unknown:
        raise ValueError(
            f"proposal covers {unknown}, which are not latent; latent variables are {latent}"
        )
    s = n_samples
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        values = {n: _repeat(v, s) for n, v in obs.items()}  # (S·B, ...)
        ctx = None if context is None else _repeat(context.expand(b, -1), s)
        log_w = torch.zeros(s * b, dtype=torch.float64)  # (S·B,)
        for name, factor in net.factors.items():
            dist = factor(values, ctx)
            if name in obs:
                log_w = log_w + dist.log_prob(values[name]).to(torch.float64)
                continue
            if name in q:
                qd = q[name]
                shape = (s,) if tuple(qd.batch_shape) == (b,) else (s, b)
                if tuple(qd.batch_shape) not in ((b,), ()):
                    raise ValueError(
                        f"proposal for {name!r} has batch shape {tuple(qd.batch_shape)}, "
                        f"expected ({b},) or ()"
                    )
                z = qd.sample(shape)  # (S, B, *event)
                log_q = qd.log_prob(z).reshape(s * b)  # (S·B,)
                z = z.reshape(s * b, *z.shape[2:])
                if isinstance(factor.variable, Discrete):
                    z = z.long()
                log_w = log_w + (dist.log_prob(z) - log_q).to(torch.float64)
            else:
                z = dist.sample((s * b,)) if dist.batch_shape == () else dist.sample()
            values[name] = z
    log_w = log_w.reshape(s, b)  # (S, B)
    top = log_w.max(0).values  # (B,)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    w = (log_w - top).exp()  # (S, B) scaled weights
    mean = w.mean(0)
    scale = top.exp()
    value = mean * scale
    stderr = w.std(0, unbiased=True) / math.sqrt(s) * scale
    ess = w.sum(0) ** 2 / (w * w).sum(0).clamp_min(TINY)
    return Estimate(value, stderr, top + mean.log(), ess, s)
