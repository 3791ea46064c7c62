"""Gaussian conditionals: linear-Gaussian regression on continuous parents, one per discrete
parent configuration (conditional linear Gaussian), with closed-form MLE/MAP.

    x | Pa(x) ~ N(W_c u + b_c, Σ_c),   u = continuous parent values, c = discrete parent states.

With no continuous parents this is a Gaussian (or one Gaussian per discrete configuration).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from .._constants import JITTER, TINY
from ..variables import Continuous, Discrete, Variable
from .base import Factor

__all__ = ["LinearGaussian", "Gaussian"]


class LinearGaussian(Factor):
    """x ~ N(W_c u + b_c, Σ_c) for a continuous child of continuous and/or discrete parents.

    Parameters (registered buffers, shapes with C = Π discrete parent cards, D = child size,
    P = total size of continuous parents): ``weight`` (*disc_cards, D, P), ``bias``
    (*disc_cards, D), and ``scale`` (*disc_cards, D) standard deviations when
    ``covariance="diag"`` or ``scale_tril`` (*disc_cards, D, D) when ``covariance="full"``.
    A scalar child (shape ()) has D = 1 and yields a ``Normal``.
    """

    def __init__(
        self,
        variable: Continuous,
        parents: Sequence[Variable] = (),
        weight=None,
        bias=None,
        scale=None,
        *,
        covariance: str = "diag",
        dtype: torch.dtype = torch.float64,
    ):
        super().__init__(variable, parents)
        if not isinstance(variable, Continuous):
            raise TypeError(f"a LinearGaussian child must be Continuous, got {variable!r}")
        if covariance not in ("diag", "full"):
            raise ValueError(f"covariance must be 'diag' or 'full', got {covariance!r}")
        self.covariance = covariance
        self.discrete = tuple(p for p in self.parents if isinstance(p, Discrete))
        self.continuous = tuple(p for p in self.parents if isinstance(p, Continuous))
        cards = tuple(p.card for p in self.discrete)
        d = variable.size
        n_in = sum(p.size for p in self.continuous)
        self.dims = (d, n_in)

        def init(value, shape, default, what, child_axis=-1):
            t = torch.as_tensor(default if value is None else value, dtype=dtype)
            if variable.shape == () and t.dim() >= 1 and t.dim() == len(shape) - 1:
                t = t.unsqueeze(child_axis)  # a scalar child's D = 1 axis left out
            try:
                return t.expand(shape).clone()
            except RuntimeError:
                raise ValueError(
                    f"factor of {variable.name!r}: {what} has shape {tuple(t.shape)}, expected "
                    f"{shape} (discrete parent cards, child size D={d}, parent size P={n_in})"
                ) from None

        self.register_buffer("weight", init(weight, (*cards, d, n_in), 0.0, "weight", -2))
        self.register_buffer("bias", init(bias, (*cards, d), 0.0, "bias"))
        if covariance == "diag":
            s = init(scale, (*cards, d), 1.0, "scale")
            if (s <= 0).any() or not torch.isfinite(s).all():
                raise ValueError(f"factor of {variable.name!r}: scale must be > 0, got {s}")
            self.register_buffer("scale", s)
        else:
            eye = torch.eye(d, dtype=dtype)
            s = init(scale, (*cards, d, d), eye, "scale_tril")
            if (torch.diagonal(s, dim1=-2, dim2=-1) <= 0).any():
                raise ValueError(
                    f"factor of {variable.name!r}: scale_tril needs a positive diagonal"
                )
            self.register_buffer("scale_tril", s.tril())

    # ------------------------------------------------------------------ model
    def _config(self, parents: Mapping[str, Tensor]) -> tuple[Tensor, ...]:
        index = []
        for p in self.discrete:
            if p.name not in parents:
                raise ValueError(f"factor of {self.name!r}: missing value of parent {p.name!r}")
            index.append(parents[p.name].long())
        return tuple(index)

    def _inputs(self, parents: Mapping[str, Tensor]) -> Tensor | None:
        if not self.continuous:
            return None
        cols = []
        for p in self.continuous:
            if p.name not in parents:
                raise ValueError(f"factor of {self.name!r}: missing value of parent {p.name!r}")
            v = parents[p.name]
            cols.append(v.reshape(v.shape[0], -1).to(self.bias.dtype))
        return torch.cat(cols, -1)  # (B, P)

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Distribution:
        index = self._config(parents)
        u = self._inputs(parents)
        weight = self.weight[index] if index else self.weight  # (B, D, P) or (D, P)
        loc = self.bias[index] if index else self.bias  # (B, D) or (D,)
        if u is not None:
            loc = loc + (weight @ u.unsqueeze(-1)).squeeze(-1)  # (B, D)
        scalar = self.variable.shape == ()
        event = self.variable.shape
        if self.covariance == "diag":
            scale = self.scale[index] if index else self.scale
            scale = scale.expand_as(loc)
            if scalar:
                return Normal(loc.squeeze(-1), scale.squeeze(-1))
            loc = loc.reshape(*loc.shape[:-1], *event)
            return Independent(Normal(loc, scale.reshape(loc.shape)), len(event))
        tril = self.scale_tril[index] if index else self.scale_tril
        if scalar:
            return Normal(loc.squeeze(-1), tril[..., 0, 0].expand(loc.shape[:-1]))
        return MultivariateNormal(loc, scale_tril=tril.expand(*loc.shape, loc.shape[-1]))

    def num_parameters(self) -> int:
        d = self.dims[0]
        cov = d if self.covariance == "diag" else d * (d + 1) // 2
        per_config = self.weight.shape[-1] * d + d + cov
        return per_config * int(torch.tensor([p.card for p in self.discrete]).prod())

    # ------------------------------------------------------------------ learning
    def summarize(
        self, value: Tensor, parents: Mapping[str, Tensor], weight: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Weighted moment sums per discrete configuration c, with design row a = [u, 1]:
        N_c = Σ w, A_c = Σ w a aᵀ (P+1, P+1), B_c = Σ w a xᵀ (P+1, D), S_c = Σ w x xᵀ (D, D)."""
        dtype = self.bias.dtype
        x = value.reshape(value.shape[0], -1).to(dtype)  # (B, D)
        u = self._inputs(parents)
        ones = torch.ones(x.shape[0], 1, dtype=dtype, device=x.device)
        a = ones if u is None else torch.cat([u, ones], -1)  # (B, P+1)
        w = ones.squeeze(-1) if weight is None else weight.to(dtype)
        cards = tuple(p.card for p in self.discrete)
        n_config = int(torch.tensor(cards).prod()) if cards else 1
        flat = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        for p, card in zip(self.discrete, cards, strict=True):
            flat = flat * card + parents[p.name].long()
        onehot = nn.functional.one_hot(flat, n_config).to(dtype) * w[:, None]  # (B, C)
        stats = {
            "n": onehot.sum(0),
            "aa": torch.einsum("bc,bi,bj->cij", onehot, a, a),
            "ax": torch.einsum("bc,bi,bj->cij", onehot, a, x),
            "xx": torch.einsum("bc,bi,bj->cij", onehot, x, x),
        }
        return {k: v.reshape(tuple(cards) + tuple(v.shape[1:])) for k, v in stats.items()}

    @torch.no_grad()
    def from_summaries(self, stats: Mapping[str, Tensor], ridge: float = 0.0) -> LinearGaussian:
        """Closed-form MLE: θ = A⁺ B (least squares through the pseudo-inverse, eq. of §2.4.1),
        Σ = (S − θᵀ B) / N. ``ridge`` λ > 0 adds λ I to A for the weights (not the bias): the MAP
        estimate under a Gaussian prior N(0, I/λ), i.e. ridge regression."""
        aa, ax, xx, n = stats["aa"], stats["ax"], stats["xx"], stats["n"]
        if ridge:
            penalty = torch.eye(aa.shape[-1], dtype=aa.dtype, device=aa.device) * ridge
            penalty[-1, -1] = 0.0
            aa = aa + penalty
        theta = torch.linalg.pinv(aa) @ ax  # (*C, P+1, D)
        self.weight.copy_(theta[..., :-1, :].transpose(-1, -2))
        self.bias.copy_(theta[..., -1, :])
        cov = (xx - theta.transpose(-1, -2) @ ax) / n.clamp_min(TINY)[..., None, None]
        cov = (cov + cov.transpose(-1, -2)) / 2
        if self.covariance == "diag":
            var = torch.diagonal(cov, dim1=-2, dim2=-1)
            self.scale.copy_(var.clamp_min(JITTER).sqrt())
        else:
            eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
            self.scale_tril.copy_(torch.linalg.cholesky(cov + JITTER * eye))
        return self


class Gaussian(LinearGaussian):
    """x ~ N(μ_c, Σ_c): a Gaussian child with no continuous parents (one per discrete state c).

    ``Gaussian(x, mean=0., std=1.)`` for a scalar; ``covariance="full"`` with ``scale_tril`` for
    a multivariate Gaussian. Its MLE is the empirical mean and the (biased) empirical covariance.
    """

    def __init__(
        self,
        variable: Continuous,
        parents: Sequence[Discrete] = (),
        mean=None,
        std=None,
        *,
        scale_tril=None,
        covariance: str = "diag",
        dtype: torch.dtype = torch.float64,
    ):
        for p in parents:
            if not isinstance(p, Discrete):
                raise TypeError(
                    f"Gaussian {variable.name!r} takes only discrete parents; use LinearGaussian "
                    f"for the continuous parent {p.name!r}"
                )
        scale = scale_tril if covariance == "full" else std
        super().__init__(
            variable, parents, bias=mean, scale=scale, covariance=covariance, dtype=dtype
        )

    @property
    def mean(self) -> Tensor:
        return self.bias
