"""Fitting one Gaussian to a target by forward or reverse KL (figure 16 of the chapter).

    forward:  q* = arg min_q KL(p, q) = arg max_q E_p[log q(x)]     moment matching = MLE
    reverse:  q* = arg min_q KL(q, p) = E_q[log q(x) - log p(x)]    gradient descent

Forward KL punishes q for missing mass where p has it, so q covers every mode; reverse KL punishes
q for putting mass where p has none, so q locks onto one mode.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, MultivariateNormal, Normal, constraints, transform_to

from ..train.quasi_newton import minimize
from ._base import as_samples, check_method, check_n_samples

__all__ = ["fit_gaussian_forward_kl", "fit_gaussian_reverse_kl", "reverse_kl"]

Gaussian = Normal | MultivariateNormal
_LOG_2PI = math.log(2 * math.pi)


def _gaussian(loc: Tensor, scale: Tensor) -> Gaussian:
    """Normal(loc, scale) for scalar events, MultivariateNormal(loc, scale_tril) for vectors."""
    if scale.ndim > loc.ndim:
        return MultivariateNormal(loc, scale_tril=scale)
    return Normal(loc, scale)


def fit_gaussian_forward_kl(target: Distribution | Tensor, *, n_samples: int = 100_000) -> Gaussian:
    """arg min_q KL(p, q) over Gaussians q: the moments of p (its MLE when p is a sample set).

    ``target`` is a distribution (its analytic mean and variance when torch has them for scalar
    events, otherwise ``n_samples`` draws) or a sample set (N,) / (N, D). Scalar events give a
    ``Normal``, vector events a ``MultivariateNormal`` with the (biased, 1/N) sample covariance.
    """
    if isinstance(target, Distribution):
        if len(target.event_shape) > 1:
            raise ValueError(
                f"target must have scalar or vector events, got event shape "
                f"{tuple(target.event_shape)}"
            )
        if len(target.event_shape) == 0:
            try:
                return Normal(target.mean.detach(), target.variance.detach().sqrt())
            except NotImplementedError:
                pass
        x = target.sample((check_n_samples(n_samples),))  # (n, *batch, *event)
        if len(target.event_shape) == 0:
            return Normal(x.mean(0), x.std(0, correction=0))
    else:
        t = torch.as_tensor(target)
        x = as_samples(t, "target")  # (N, D)
        if t.ndim == 1:
            return Normal(x[:, 0].mean(), x[:, 0].std(correction=0))
    mean = x.mean(0)  # (*batch, D)
    centred = x - mean
    cov = torch.einsum("n...i,n...j->...ij", centred, centred) / x.shape[0]  # (*batch, D, D)
    return MultivariateNormal(mean, covariance_matrix=cov)


def _standard_grid(n: int, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """Nodes z_j on [-12, 12], trapezoid weights w_j = φ(z_j) Δz: E_{N(0,1)}[f] ≈ Σ w_j f(z_j).

    For smooth integrands the trapezoid rule on the line converges geometrically in 1/Δz.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 3:
        raise ValueError(f"n_nodes must be an integer >= 3, got {n!r}")
    z = torch.linspace(-12.0, 12.0, n, dtype=dtype, device=device)
    return z, torch.exp(-z.square() / 2) * ((z[1] - z[0]) / math.sqrt(2 * math.pi))


def reverse_kl(q: Normal, target: Distribution, *, n_nodes: int = 241) -> Tensor:
    """KL(q, p) = -H(q) - E_q[log p(x)] for a 1-D Gaussian q, by quadrature on a fine grid
    x_j = μ + σ z_j (``n_nodes`` points over ±12 σ). Differentiable; batched over q's batch."""
    z, w = _standard_grid(n_nodes, q.loc.dtype, q.loc.device)  # (J,), (J,)
    shape = (-1,) + (1,) * q.loc.ndim
    x = q.loc + q.scale * z.reshape(shape)  # (J, *batch)
    return -q.entropy() - (w.reshape(shape) * target.log_prob(x)).sum(0)


def _reparam_kl(loc: Tensor, scale: Tensor, target: Distribution, n: int) -> Tensor:
    """Monte Carlo KL(q, p) per start, q = N(loc, L Lᵀ), with x = loc + L ε, ε ~ N(0, I):

        log q(x) = -|ε|²/2 - Σ_i log L_ii - (D/2) log 2π   (no triangular solve needed).

    loc (R, *event), scale (R,) or (R, D, D) lower triangular; returns (R,).
    """
    eps = torch.randn((n,) + loc.shape, dtype=loc.dtype, device=loc.device)  # (S, R, *event)
    if scale.ndim > loc.ndim:  # vector events
        x = loc + (scale * eps[..., None, :]).sum(-1)  # (S, R, D): L ε without a BLAS call
        log_det = scale.diagonal(dim1=-2, dim2=-1).log().sum(-1)  # (R,)
        log_q = -0.5 * eps.square().sum(-1) - log_det - 0.5 * loc.shape[-1] * _LOG_2PI
    else:
        x = loc + scale * eps  # (S, R)
        log_q = -0.5 * eps.square() - scale.log() - 0.5 * _LOG_2PI
    return (log_q - target.log_prob(x)).mean(0)


class _ReverseKL(nn.Module):
    """The Monte Carlo KL(q, p) summed over the starts, as a model for the training loop."""

    def __init__(self, loc: nn.Parameter, raw: nn.Parameter, to_scale, target, n: int):
        super().__init__()
        self.loc, self.raw = loc, raw
        self.to_scale, self.target, self.n = to_scale, target, n

    def loss(self, x=None, y=None, *, group: str | None = None) -> Tensor:
        return _reparam_kl(self.loc, self.to_scale(self.raw), self.target, self.n).sum()


def fit_gaussian_reverse_kl(
    target: Distribution,
    *,
    init: Gaussian | None = None,
    n_restarts: int = 8,
    method: str = "auto",
    n_steps: int = 1000,
    lr: float = 0.05,
    n_samples: int = 256,
    n_nodes: int = 241,
) -> Gaussian:
    """arg min_q KL(q, p) over Gaussians q, from several starts; the best start wins.

    ``method="quadrature"`` (scalar events; the default there) minimizes the grid-quadrature
    value of KL(q, p) (:func:`reverse_kl`) with L-BFGS; ``method="mc"`` (any event size) runs
    Adam on the reparameterized Monte Carlo estimate mean_s[log q(x_s) - log p(x_s)],
    x_s = μ + L ε_s, with a cosine-decayed learning rate. Starts: ``init`` (a Gaussian whose
    batch holds one start each) or ``n_restarts`` means drawn from the target with the scale of
    the forward fit. ``n_steps`` bounds the L-BFGS iterations or sets the Adam steps.
    """
    if not isinstance(target, Distribution):
        raise TypeError(f"target must be a torch distribution, got {type(target).__name__}")
    if target.batch_shape != torch.Size() or len(target.event_shape) > 1:
        raise ValueError(
            f"target must have batch shape () and scalar or vector events, got "
            f"batch {tuple(target.batch_shape)}, event {tuple(target.event_shape)}"
        )
    support = target.support
    while hasattr(support, "base_constraint"):  # independent(...), mixtures' wrappers
        support = support.base_constraint
    if not isinstance(support, type(constraints.real)):
        raise ValueError(
            f"the target's support must be the whole space for KL(q, p) < inf with "
            f"a Gaussian q, got {target.support}"
        )
    method = check_method(method, ("auto", "quadrature", "mc"))
    vector = len(target.event_shape) == 1
    if method == "auto":
        method = "mc" if vector else "quadrature"
    if method == "quadrature" and vector:
        raise ValueError("method='quadrature' is for scalar events; use method='mc'")
    if init is None:
        if isinstance(n_restarts, bool) or not isinstance(n_restarts, int) or n_restarts < 1:
            raise ValueError(f"n_restarts must be a positive integer, got {n_restarts!r}")
        wide = fit_gaussian_forward_kl(target)
        loc0 = target.sample((n_restarts,))  # (R, *event)
        scale0 = (wide.scale_tril if vector else wide.scale).expand(
            (n_restarts,) + wide.batch_shape + (wide.event_shape * 2 if vector else ())
        )
    elif isinstance(init, (Normal, MultivariateNormal)):
        loc0 = init.loc
        scale0 = init.scale_tril if isinstance(init, MultivariateNormal) else init.scale
        if (loc0.shape[-1:] if vector else torch.Size()) != target.event_shape or (
            isinstance(init, MultivariateNormal) != vector
        ):
            raise ValueError(
                f"init must be a Gaussian with the target's event shape {tuple(target.event_shape)}"
            )
        if loc0.ndim == len(target.event_shape):
            loc0, scale0 = loc0[None], scale0[None]
    else:
        raise TypeError(f"init must be a Normal or MultivariateNormal, got {type(init).__name__}")
    # unconstrained parameters through torch transforms: scale > 0, scale_tril lower Cholesky
    to_scale = transform_to(constraints.lower_cholesky if vector else constraints.positive)
    loc = nn.Parameter(loc0.detach().clone())  # (R, *event)
    raw = nn.Parameter(to_scale.inv(scale0.detach()).clone())  # (R,) or (R, D, D)

    if method == "quadrature":
        minimize(
            lambda: reverse_kl(Normal(loc, to_scale(raw)), target, n_nodes=n_nodes).sum(),
            [loc, raw],
            max_iter=n_steps,
            tolerance_grad=1e-12,
            tolerance_change=1e-14,
        )
        with torch.no_grad():
            kl = reverse_kl(Normal(loc, to_scale(raw)), target, n_nodes=n_nodes)  # (R,)
    else:
        from ..train import TrainConfig, train

        n = check_n_samples(n_samples)
        # Adam with a cosine decay to lr / 100, so the last iterates average out the Monte
        # Carlo noise; the seed comes from torch's global generator
        config = TrainConfig(
            steps=n_steps,
            lr=lr,
            optimizer="adam",
            schedule="cosine",
            min_lr=0.01,
            seed=int(torch.randint(2**62, ())),
            device=str(loc.device),
            distributed=False,
            desc="reverse KL",
        )
        train(_ReverseKL(loc, raw, to_scale, target, n), None, config=config)
        with torch.no_grad():
            kl = _reparam_kl(loc, to_scale(raw), target, max(n, 4096))  # (R,)
    if not torch.isfinite(kl).any():
        raise ValueError("KL(q, p) is not finite for any start")
    best = int(torch.nan_to_num(kl, nan=math.inf).argmin())
    return _gaussian(loc[best].detach(), to_scale(raw[best]).detach())
