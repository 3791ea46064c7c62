"""Two language models as one network: a latent switch s_t picks the expert of each step.

    s_t ~ Bernoulli(w),   x_t | s_t, x_<t ~ p_A(x_t | x_<t) if s_t = 1 else p_B(x_t | x_<t)

Summing the switch out gives the mixture (§2.1.3.1) p(x_t | x_<t) = w p_A + (1 − w) p_B at
every step. The weight is fitted by EM on held-out text given the experts' per-token
log-probabilities a_t = log p_A(x_t | x_<t), b_t = log p_B(x_t | x_<t):

    E: r_t = P(s_t = 1 | x_t, x_<t) = w e^{a_t} / (w e^{a_t} + (1 − w) e^{b_t})
    M: w = mean_t r_t

Each iteration cannot lower the held-out likelihood, which is concave in w, so EM converges to
its maximum. The text the weight is scored on must not be the text it was fitted on.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._checks import check_int
from ..graph import DAG, time_layout

__all__ = ["fit_switch_weight", "mixture_log_probs", "switch_posterior", "switch_dag"]


def _check(log_p_a: Tensor, log_p_b: Tensor) -> tuple[Tensor, Tensor]:
    a = torch.as_tensor(log_p_a, dtype=torch.float64)
    b = torch.as_tensor(log_p_b, dtype=torch.float64)
    if a.shape != b.shape or a.dim() != 1 or not len(a):
        raise ValueError(
            f"log_p_a and log_p_b must be two non-empty vectors (N,) of the same length, got "
            f"shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    if torch.isnan(a).any() or torch.isnan(b).any() or (a > 1e-9).any() or (b > 1e-9).any():
        raise ValueError("log_p_a and log_p_b must be log-probabilities (<= 0, not NaN)")
    return a, b


def _check_w(w: float) -> float:
    if not isinstance(w, int | float) or not 0 <= w <= 1:
        raise ValueError(f"w must be a float in [0, 1], got {w!r}")
    return float(w)


def mixture_log_probs(log_p_a: Tensor, log_p_b: Tensor, w: float) -> Tensor:
    """log(w p_A + (1 − w) p_B) per token, shape (N,) (float64)."""
    a, b = _check(log_p_a, log_p_b)
    w = _check_w(w)
    la = math.log(w) if w > 0 else -math.inf
    lb = math.log1p(-w) if w < 1 else -math.inf
    return torch.logaddexp(a + la, b + lb)


def switch_posterior(log_p_a: Tensor, log_p_b: Tensor, w: float) -> Tensor:
    """P(s_t = A | x_t, x_<t) per token, shape (N,): the E step."""
    a, b = _check(log_p_a, log_p_b)
    w = _check_w(w)
    return torch.exp(a + math.log(w) - mixture_log_probs(a, b, w)) if w > 0 else torch.zeros_like(a)


def fit_switch_weight(
    log_p_a: Tensor,
    log_p_b: Tensor,
    *,
    w0: float = 0.5,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> tuple[float, list[float]]:
    """The EM estimate of w on held-out tokens, and the mean log-likelihood after each
    iteration (non-decreasing). Stops when w moves less than ``tol``."""
    a, b = _check(log_p_a, log_p_b)
    w = _check_w(w0)
    if not 0 < w < 1:
        raise ValueError(f"w0 must lie in (0, 1), got {w0!r}")
    max_iter = check_int("max_iter", max_iter, low=1)
    trace = []
    for _ in range(max_iter):  # EM iterations, vectorized over tokens
        new = float(switch_posterior(a, b, w).mean())
        new = min(max(new, 1e-12), 1 - 1e-12)
        trace.append(float(mixture_log_probs(a, b, new).mean()))
        done = abs(new - w) < tol
        w = new
        if done:
            break
    return w, trace


def switch_dag(n_steps: int = 4) -> DAG:
    """The network of the two-expert model unrolled over ``n_steps``: s_t → x_t and every
    x_s → x_t (s < t)."""
    n_steps = check_int("n_steps", n_steps, low=1)
    xs = [f"x{t}" for t in range(1, n_steps + 1)]
    ss = [f"s{t}" for t in range(1, n_steps + 1)]
    edges = [(s, x) for s, x in zip(ss, xs, strict=True)]
    edges += [(xs[i], xs[j]) for j in range(n_steps) for i in range(j)]
    return DAG(nodes=ss + xs, edges=edges, layout=time_layout(ss, xs))
