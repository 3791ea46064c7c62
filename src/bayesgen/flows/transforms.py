"""Bijections of R^D with their inverses and log-Jacobians, and the builders that make them.

A normalizing flow (eq. 18) pushes a base sample z₀ ~ N(0, I) through bijections,
x = T_K ∘ … ∘ T_1(z₀), and has the exact density

    log p(x) = log N(z₀; 0, I) − Σ_k log |det ∂T_k/∂z_{k−1}|,   z_{k−1} = T_k⁻¹(z_k).

Every bijection here is a :class:`torch.distributions.Transform` acting on vectors (B, D)
(``event_dim = 1``; ``log_abs_det_jacobian`` has shape (B,)) in the sampling direction z → x.
Besides torch's ``_call``/``_inverse``, each has ``forward_and_ladj(x)`` and
``inverse_and_ladj(y)``, the value and log|det J| of the forward map in one pass (a flow's
density needs both and its conditioner networks should run once).

Torch transforms are not modules, so the learnable parts live in :class:`TransformBuilder`
modules whose ``forward(context)`` returns the transform for a context c (B, C) or None (the
lazy pattern): a flow is a list of builders, and its distribution for c is a base pushed
through ``[b(c) for b in builders]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Transform, constraints
from torch.distributions.transforms import ComposeTransform

__all__ = [
    "FlowTransform",
    "TransformBuilder",
    "ElementwiseAffineTransform",
    "PermutationTransform",
    "LinearTransform",
    "ElementwiseAffine",
    "ActNorm",
    "Permutation",
    "LULinear",
    "Affine",
    "forward_and_ladj",
    "inverse_and_ladj",
    "soft_clamp",
]


def soft_clamp(raw: Tensor, bound: float = 3.0) -> Tensor:
    """bound · tanh(raw / bound): a log-scale kept in (−bound, bound), identity near 0."""
    return bound * torch.tanh(raw / bound)


class FlowTransform(Transform):
    """A bijection of vectors (B, D) with ``forward_and_ladj`` and ``inverse_and_ladj``.

    Subclasses implement the two fused methods; ``_call``, ``_inverse`` and
    ``log_abs_det_jacobian`` follow from them.
    """

    domain = constraints.independent(constraints.real, 1)
    codomain = constraints.independent(constraints.real, 1)
    bijective = True

    def __init__(self):
        super().__init__(cache_size=0)

    def forward_and_ladj(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """y = T(x) and log|det ∂T/∂x| (B,)."""
        raise TypeError(f"{type(self).__name__} must define forward_and_ladj")

    def inverse_and_ladj(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """x = T⁻¹(y) and log|det ∂T/∂x| at that x (B,) (the forward map's, not the inverse's)."""
        raise TypeError(f"{type(self).__name__} must define inverse_and_ladj")

    def _call(self, x: Tensor) -> Tensor:
        return self.forward_and_ladj(x)[0]

    def _inverse(self, y: Tensor) -> Tensor:
        return self.inverse_and_ladj(y)[0]

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return self.forward_and_ladj(x)[1]


def _parts(t: Transform) -> list[Transform]:
    return [q for p in t.parts for q in _parts(p)] if isinstance(t, ComposeTransform) else [t]


def _generic_ladj(t: Transform, x: Tensor, y: Tensor) -> Tensor:
    ladj = t.log_abs_det_jacobian(x, y)
    extra = 1 - t.domain.event_dim  # a transform of scalars summed over the vector's entries
    return ladj.sum(-1) if extra > 0 else ladj


def forward_and_ladj(t: Transform, x: Tensor) -> tuple[Tensor, Tensor]:
    """y = t(x) and Σ log|det J| (B,) through a transform or a composition of them."""
    total = x.new_zeros(x.shape[:-1])
    for part in _parts(t):
        if isinstance(part, FlowTransform):
            y, ladj = part.forward_and_ladj(x)
        else:
            y = part(x)
            ladj = _generic_ladj(part, x, y)
        total, x = total + ladj, y
    return x, total


def inverse_and_ladj(t: Transform, y: Tensor) -> tuple[Tensor, Tensor]:
    """x = t⁻¹(y) and the forward map's Σ log|det J| at x (B,), one pass from the output side."""
    total = y.new_zeros(y.shape[:-1])
    for part in reversed(_parts(t)):
        if isinstance(part, FlowTransform):
            x, ladj = part.inverse_and_ladj(y)
        else:
            x = part.inv(y)
            ladj = _generic_ladj(part, x, y)
        total, y = total + ladj, x
    return y, total


# ---------------------------------------------------------------------------- univariate maps
class Affine:
    """The univariate map of MAF/IAF/RealNVP from P = 2 numbers per coordinate (t, raw), with
    s = soft_clamp(raw), parameterised in the density direction as in RealNVP: the base side is
    z = y exp(s) + t, so the sampling map is y = (z − t) exp(−s) and log|dy/dz| = −s (this
    trained faster than y = z exp(s) + t at the same learning rate). Parameters p (..., 2)."""

    params = 2

    def forward(self, x: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        s = soft_clamp(p[..., 1])
        return (x - p[..., 0]) * torch.exp(-s), -s

    def inverse(self, y: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
        s = soft_clamp(p[..., 1])
        return y * s.exp() + p[..., 0], -s

    def __repr__(self) -> str:
        return "Affine()"


# ---------------------------------------------------------------------------- transforms
class ElementwiseAffineTransform(FlowTransform):
    """y = x ⊙ exp(s) + t, log|det J| = Σ_d s_d. ``shift`` t and ``log_scale`` s broadcast
    against x (B, D)."""

    sign = +1

    def __init__(self, shift: Tensor, log_scale: Tensor):
        super().__init__()
        self.shift, self.log_scale = shift, log_scale

    def forward_and_ladj(self, x):
        s = self.log_scale.expand_as(x)
        return x * s.exp() + self.shift, s.sum(-1)

    def inverse_and_ladj(self, y):
        s = self.log_scale.expand_as(y)
        return (y - self.shift) * torch.exp(-s), s.sum(-1)


class PermutationTransform(FlowTransform):
    """y = x[..., π]: a reordering of the coordinates, log|det J| = 0, sign = sign(π)."""

    def __init__(self, perm: Tensor, inverse_perm: Tensor):
        super().__init__()
        self.perm, self.inverse_perm = perm, inverse_perm

    @property
    def sign(self) -> int:
        p = self.perm.tolist()
        seen, parity = [False] * len(p), 0
        for i in range(len(p)):  # cycles of π (a property, not a pass over data)
            j, length = i, 0
            while not seen[j]:
                seen[j], j, length = True, p[j], length + 1
            parity += max(length - 1, 0)
        return -1 if parity % 2 else 1

    def forward_and_ladj(self, x):
        return x[..., self.perm], x.new_zeros(x.shape[:-1])

    def inverse_and_ladj(self, y):
        return y[..., self.inverse_perm], y.new_zeros(y.shape[:-1])


class LinearTransform(FlowTransform):
    """y = W x + b with W = P L U: P a fixed permutation matrix, L unit lower triangular,
    U upper triangular with diagonal σ ⊙ exp(s) (σ = ±1 fixed). log|det J| = Σ s,
    sign = det(P) Π σ; the inverse is two triangular solves."""

    def __init__(self, perm: Tensor, lower: Tensor, upper: Tensor, bias: Tensor, sign: int):
        super().__init__()
        self.perm, self.lower, self.upper, self.bias = perm, lower, upper, bias
        self._sign = sign

    @property
    def sign(self) -> int:
        return self._sign

    def _ladj(self, like: Tensor) -> Tensor:
        return self.upper.diagonal().abs().log().sum().expand(like.shape[:-1])

    def weight(self) -> Tensor:
        return (self.lower @ self.upper)[self.perm]  # (D, D): rows of L U reordered

    def forward_and_ladj(self, x):
        return x @ self.weight().T + self.bias, self._ladj(x)

    def inverse_and_ladj(self, y):
        r = torch.empty_like(y)
        r[..., self.perm] = y - self.bias  # Pᵀ (y − b)   (B, D)
        u = torch.linalg.solve_triangular(self.lower, r.T, upper=False, unitriangular=True)
        x = torch.linalg.solve_triangular(self.upper, u, upper=True).T  # (B, D)
        return x, self._ladj(y)


# ---------------------------------------------------------------------------- builders
class TransformBuilder(nn.Module):
    """A module holding a transform's parameters; ``forward(context)`` returns the transform
    (a :class:`FlowTransform`) for a context c (B, C), or for no context."""

    def __init__(self, features: int):
        super().__init__()
        if not isinstance(features, int) or features < 1:
            raise ValueError(f"features must be an int >= 1, got {features!r}")
        self.features = features

    def extra_repr(self) -> str:
        return f"features={self.features}"


class ElementwiseAffine(TransformBuilder):
    """x ⊙ exp(s) + t with learnt t, s (D,) each, identity at initialisation."""

    def __init__(self, features: int):
        super().__init__(features)
        self.shift = nn.Parameter(torch.zeros(features))
        self.log_scale = nn.Parameter(torch.zeros(features))

    def forward(self, context: Tensor | None = None) -> ElementwiseAffineTransform:
        return ElementwiseAffineTransform(self.shift, self.log_scale)


class _ActNormTransform(ElementwiseAffineTransform):
    def __init__(self, owner: ActNorm):
        super().__init__(owner.shift, owner.log_scale)
        self.owner = owner

    def inverse_and_ladj(self, y):
        if not bool(self.owner.initialized):
            self.owner.initialize(y)
            self.shift, self.log_scale = self.owner.shift, self.owner.log_scale
        return super().inverse_and_ladj(y)


class ActNorm(ElementwiseAffine):
    """Activation normalisation (Glow): x = z ⊙ exp(s) + t whose t, s are set from the first
    batch that passes in the density direction, t = mean(x), s = log std(x), so that the layer
    first emits standardised z; then learnt. ``initialized`` is a buffer (saved with it)."""

    def __init__(self, features: int, eps: float = 1e-6):
        super().__init__(features)
        self.eps = float(eps)
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def initialize(self, x: Tensor) -> None:
        """t, s from a batch x (B, D) at this layer's output side."""
        if x.shape[0] < 2:
            raise ValueError(f"ActNorm initialises from a batch of >= 2 rows, got {x.shape[0]}")
        self.shift.copy_(x.mean(0))
        self.log_scale.copy_((x.std(0) + self.eps).log())
        self.initialized.fill_(True)

    def forward(self, context: Tensor | None = None) -> ElementwiseAffineTransform:
        return _ActNormTransform(self)


class Permutation(TransformBuilder):
    """A fixed reordering of the coordinates (a registered buffer): ``order`` = "reverse",
    "random" (drawn from ``seed``) or an explicit permutation."""

    def __init__(self, features: int, order: str | Sequence[int] = "reverse", seed: int = 0):
        super().__init__(features)
        if isinstance(order, str):
            if order == "reverse":
                perm = torch.arange(features - 1, -1, -1)
            elif order == "random":
                perm = torch.randperm(features, generator=torch.Generator().manual_seed(seed))
            else:
                raise ValueError(
                    f"order must be 'reverse', 'random' or a permutation, got {order!r}"
                )
        else:
            perm = torch.as_tensor(list(order), dtype=torch.long)
            if sorted(perm.tolist()) != list(range(features)):
                raise ValueError(f"order must be a permutation of 0..{features - 1}, got {order!r}")
        self.register_buffer("perm", perm)
        self.register_buffer("inverse_perm", torch.argsort(perm))

    def forward(self, context: Tensor | None = None) -> PermutationTransform:
        return PermutationTransform(self.perm, self.inverse_perm)


class LULinear(TransformBuilder):
    """An invertible linear map W x + b, W = P L U (Kingma & Dhariwal's LU-factored 1×1
    convolution), initialised from the QR decomposition of a random matrix (seeded)."""

    def __init__(self, features: int, seed: int = 0):
        super().__init__(features)
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(features, features, generator=g, dtype=torch.float64))
        p, lower, upper = torch.linalg.lu(q)  # q = p @ lower @ upper
        diag = upper.diagonal()
        self.register_buffer("perm", p.argmax(1).to(torch.long))  # (P M)[i] = M[perm[i]]
        self.register_buffer("sign_diag", diag.sign().to(torch.get_default_dtype()))
        self.register_buffer("lower_mask", torch.ones(features, features).tril(-1))
        self.lower = nn.Parameter(lower.tril(-1).to(torch.get_default_dtype()))
        self.upper = nn.Parameter(upper.triu(1).to(torch.get_default_dtype()))
        self.log_diag = nn.Parameter(diag.abs().log().to(torch.get_default_dtype()))
        self.bias = nn.Parameter(torch.zeros(features))
        self._sign = int(torch.linalg.det(p).sign()) * int(diag.sign().prod())

    def forward(self, context: Tensor | None = None) -> LinearTransform:
        eye = torch.eye(self.features, dtype=self.lower.dtype, device=self.lower.device)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_diag * self.log_diag.exp())
        return LinearTransform(self.perm, lower, upper, self.bias, self._sign)
