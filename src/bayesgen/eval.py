"""Evaluation of generative models: held-out likelihood, sample-based distances, mode coverage.

Likelihood (nats per row):

    nll(model, source)            -(1/N) Σ_i log p(x_i)   (or -bound) over a BatchSource
    importance_log_prob(log_w)    log p̂(x) = logsumexp_k log w_k - log K
                                  with w_k = p(x, z_k) / q(z_k | x), z_k ~ q(z | x)

p̂(x) is unbiased for p(x) (so log p̂ is a lower bound in expectation, exact when q is the
posterior); :func:`importance_sampled_log_prob` drives it over chunks of k for large K.

Samples against held-out data (the distances of :mod:`bayesgen.info`): the energy distance, the
squared MMD with an RBF kernel and the sliced Wasserstein distance.

Mode coverage (PacGAN, Lin et al. 2018) for mixtures of K Gaussians of standard deviation σ:
a sample is *high quality* if it lies within 3σ of its nearest mode; a mode is *captured* if at
least one high-quality sample is nearest to it; the protocol draws 2,500 samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ._checks import check_int, check_real
from .data.source import BatchSource
from .info import Estimate
from .info import energy_distance as _energy_distance
from .info import mmd2 as _mmd2
from .info import sliced_wasserstein_distance as _sliced_wasserstein

__all__ = [
    "nll",
    "importance_log_prob",
    "importance_sampled_log_prob",
    "energy_distance",
    "mmd",
    "sliced_wasserstein",
    "mode_coverage",
    "PACGAN_SAMPLES",
]

#: the number of samples PacGAN's protocol scores for mode coverage
PACGAN_SAMPLES = 2_500


def nll(
    model,
    source: BatchSource,
    batch_size: int = 256,
    *,
    bound: str | None = None,
    use_labels: bool | None = None,
    generator: torch.Generator | None = None,
) -> Estimate:
    """Held-out negative log-likelihood per row, -(1/N) Σ log p(x_i | y_i), and its standard
    error, over every item of ``source`` in order.

    ``bound`` names a method of the model giving a per-row lower bound (e.g. ``"elbo"``), whose
    negative is an upper bound on the NLL; otherwise ``model.log_prob`` (exact). The source's
    labels y are passed on when ``use_labels`` (default: when the model is ``conditional``), so
    an unconditional model scores labelled data. ``generator`` seeds the source's transform.
    """
    batch_size = check_int("batch_size", batch_size, low=1)
    fn = model.log_prob if bound is None else getattr(model, bound, None)
    if fn is None or not callable(fn):
        raise ValueError(f"bound must name a method of {type(model).__name__}, got {bound!r}")
    if use_labels is None:
        use_labels = bool(getattr(model, "conditional", False))
    n = len(source)
    if n == 0:
        raise ValueError("source must hold at least one item, got 0")
    values = []
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    try:
        with torch.no_grad():
            for i in range(0, n, batch_size):
                x, y = source.batch(torch.arange(i, min(i + batch_size, n)), generator)
                lp = fn(x, y) if use_labels else fn(x)  # (B,)
                if lp.shape != (len(x),):
                    raise ValueError(
                        f"{'log_prob' if bound is None else bound} must return one value per "
                        f"row, shape ({len(x)},), got {tuple(lp.shape)}"
                    )
                values.append(-lp.detach().to(torch.float64))
    finally:
        if was_training:
            model.train()
    v = torch.cat(values)  # (N,)
    se = v.std() / math.sqrt(n) if n > 1 else torch.tensor(math.nan, dtype=v.dtype)
    return Estimate(v.mean(), se)


def importance_log_prob(log_w: Tensor) -> Tensor:
    """log p̂(x) = log (1/K) Σ_k w_k from log-weights (B, K): logsumexp over k minus log K."""
    log_w = torch.as_tensor(log_w)
    if log_w.dim() != 2 or log_w.shape[1] < 1:
        raise ValueError(f"log_w must have shape (B, K) with K >= 1, got {tuple(log_w.shape)}")
    return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])


def importance_sampled_log_prob(
    log_weights: Callable[[int], Tensor], k: int, chunk: int = 128
) -> Tensor:
    """log p̂(x) with K = ``k`` importance samples, drawn ``chunk`` at a time:
    ``log_weights(m)`` returns log w = log p(x, z) - log q(z | x) for m fresh draws of z per
    row, shape (B, m); the chunks' logsumexps are combined exactly (memory O(B · chunk))."""
    k = check_int("k", k, low=1)
    chunk = check_int("chunk", chunk, low=1)
    total = None
    done = 0
    while done < k:
        m = min(chunk, k - done)
        lw = torch.as_tensor(log_weights(m))
        if lw.dim() != 2 or lw.shape[1] != m:
            raise ValueError(f"log_weights({m}) must return shape (B, {m}), got {tuple(lw.shape)}")
        part = torch.logsumexp(lw, dim=1)  # (B,)
        total = part if total is None else torch.logaddexp(total, part)
        done += m
    return total - math.log(k)


def _rows(x: Tensor) -> Tensor:
    x = torch.as_tensor(x)
    return x.reshape(len(x), -1) if x.dim() > 2 else x


def energy_distance(a: Tensor, b: Tensor) -> Tensor:
    """Energy distance sqrt(2 E|A - B| - E|A - A'| - E|B - B'|) between sample sets (rows;
    images are flattened). See :func:`bayesgen.info.energy_distance`."""
    return _energy_distance(_rows(a), _rows(b))


def mmd(a: Tensor, b: Tensor, *, bandwidth: float | str = "median", biased: bool = False) -> Tensor:
    """Squared maximum mean discrepancy MMD² with an RBF kernel of ``bandwidth`` (the median
    pairwise distance by default), unbiased unless ``biased``. See :func:`bayesgen.info.mmd2`."""
    return _mmd2(_rows(a), _rows(b), bandwidth=bandwidth, biased=biased)


def sliced_wasserstein(
    a: Tensor,
    b: Tensor,
    n_projections: int | Tensor = 128,
    *,
    p: float = 2,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sliced Wasserstein SW_p = (E_θ W_p(θ·A, θ·B)^p)^{1/p} over ``n_projections`` directions θ
    uniform on the sphere, drawn with ``generator`` (or a (P, D) tensor of directions). See
    :func:`bayesgen.info.sliced_wasserstein_distance` (which also gives the standard error)."""
    a, b = _rows(a), _rows(b)
    if isinstance(n_projections, Tensor):
        theta = n_projections
    else:
        count = check_int("n_projections", n_projections, low=1)
        d = a.shape[1] if a.dim() == 2 else 1
        theta = torch.randn(count, d, generator=generator, dtype=torch.float64)
    return _sliced_wasserstein(a, b, p, projections=theta).value


def mode_coverage(samples: Tensor, modes: Tensor, sigma: float) -> dict[str, float | int]:
    """PacGAN's mode coverage of ``samples`` (N, D) on a mixture with ``modes`` (K, D) and
    per-axis standard deviation σ.

    Returns ``modes``: how many modes hold at least one high-quality sample (within 3σ of its
    nearest mode), ``high_quality``: the fraction of high-quality samples, and ``kl``: KL(h ‖ u)
    in nats between the histogram h of the high-quality samples over their nearest modes and
    the uniform u on the K modes (0 for a perfect sampler's limit, log K when one mode holds
    all; NaN when no sample is of high quality).
    """
    sigma = check_real("sigma", sigma, low=0, open_low=True)
    x = torch.as_tensor(samples).to(torch.float64)
    m = torch.as_tensor(modes).to(torch.float64)
    if x.dim() != 2 or m.dim() != 2 or x.shape[1] != m.shape[1] or len(m) == 0:
        raise ValueError(
            f"samples (N, D) and modes (K, D) must share D, got {tuple(x.shape)} and "
            f"{tuple(m.shape)}"
        )
    if len(x) == 0:
        raise ValueError("samples must hold at least one row, got 0")
    dist, nearest = torch.cdist(x, m).min(1)  # (N,) each
    good = dist <= 3 * sigma  # (N,)
    counts = torch.bincount(nearest[good], minlength=len(m)).to(torch.float64)  # (K,)
    total = counts.sum()
    if total > 0:
        h = counts / total
        kl = float(torch.xlogy(h, h).sum() + math.log(len(m)))
    else:
        kl = math.nan
    return {
        "modes": int((counts > 0).sum()),
        "high_quality": float(good.double().mean()),
        "kl": kl,
    }
