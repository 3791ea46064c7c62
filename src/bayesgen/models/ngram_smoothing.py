"""Smoothing strategies for n-gram models, all reading the same count tables (:class:`NGramCounts`).

Notation: n = k+1 is the n-gram length, h a context of length m-1, w the next token, c(hw) the
count of the m-gram hw, c'(hw) the count a Kneser–Ney level uses (c at the top level, the
continuation count N1+(. hw) below), S the support (the tokens that can be predicted).

* :class:`MLE`            p(w|h) = c(hw) / Σ_v c(hv)                    (0 for an unseen context)
* :class:`AddK`           p(w|h) = (c(hw) + k) / (Σ_v c(hv) + k|S|)      (Lidstone; k=1 Laplace)
* :class:`KneserNey`      interpolated Kneser–Ney, one absolute discount d (NLTK's
  ``KneserNeyInterpolated``)
* :class:`ModifiedKneserNey`  Chen & Goodman's interpolated modified Kneser–Ney, three discounts
  per order (D1, D2, D3+), estimated from count-of-counts or tuned on held-out data
* :class:`StupidBackoff`  Brants et al.'s score, *not* a probability

Every strategy is an ``nn.Module``; ``fit(counts, support)`` turns the counts into its own
registered buffers, ``prob(ctx, grams, words)`` evaluates p(w|h) for many (h, w) at once, with
``ctx[m-1]``/``grams[m-1]`` the trie ranks of the context and the m-gram for orders m = 1..n
(broadcasting shapes, -1 = unseen).
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import ClassVar

import torch
from torch import Tensor, nn

from .._checks import check_bool, check_real
from .._constants import TINY
from ..train.quasi_newton import minimize
from .ngram_counts import NGramCounts

__all__ = [
    "Smoothing",
    "MLE",
    "AddK",
    "Laplace",
    "KneserNey",
    "ModifiedKneserNey",
    "StupidBackoff",
    "make_smoothing",
    "SMOOTHINGS",
]

_F = torch.float64


def _gather(table: Tensor, idx: Tensor, fill: float = 0.0) -> Tensor:
    """``table[idx]`` with ``fill`` where ``idx < 0`` (unseen)."""
    out = table[idx.clamp(min=0)]
    return torch.where(idx >= 0, out, torch.full_like(out, fill))


def _child_sum(counts: NGramCounts, m: int, values: Tensor) -> Tensor:
    """Σ over the children u of each level-(m-1) node of ``values[u]`` → ``(U_{m-1}, ...)``."""
    out = torch.zeros(
        (counts.size(m - 1), *values.shape[1:]), dtype=values.dtype, device=values.device
    )
    return out.index_add_(0, counts.parent(m), values)


class Smoothing(nn.Module, metaclass=ABCMeta):
    """Base strategy: from shared counts to p(w | h)."""

    normalized: ClassVar[bool] = True
    tunable: ClassVar[bool] = False

    @abstractmethod
    def fit(self, counts: NGramCounts, support: Tensor) -> Smoothing:
        """Derive this strategy's tables from the counts; ``support`` (V,) marks the tokens
        that can be predicted."""

    def _set_support(self, counts: NGramCounts, support: Tensor) -> None:
        self.n = counts.n
        self.register_buffer("support", support.to(torch.bool))  # (V,)
        self.n_support = int(support.sum())

    @abstractmethod
    def prob(self, ctx: list[Tensor], grams: list[Tensor], words: Tensor) -> Tensor:
        """p(w | h) (a score for unnormalized strategies); broadcast shape of the inputs."""

    def tune(self, ctx: list[Tensor], grams: list[Tensor], words: Tensor, **kwargs) -> Smoothing:
        raise ValueError(
            f"{type(self).__name__} has no hyperparameter to tune; tunable smoothings are "
            f"AddK, KneserNey and ModifiedKneserNey"
        )

    def hyperparameters(self) -> dict:
        return {}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())


class MLE(Smoothing):
    """Maximum likelihood: p(w|h) = c(hw) / Σ_v c(hv); 0 for an unseen n-gram or context."""

    def fit(self, counts: NGramCounts, support: Tensor) -> MLE:
        self._set_support(counts, support)
        c = counts.level(counts.n).count.to(_F)
        self.register_buffer("c", c)  # (U_n,)
        self.register_buffer("den", _child_sum(counts, counts.n, c))  # (U_{n-1},)
        return self

    def prob(self, ctx, grams, words):
        c = _gather(self.c, grams[-1])
        den = _gather(self.den, ctx[-1])
        return torch.where(den > 0, c / den.clamp(min=1), torch.zeros_like(c))


class AddK(Smoothing):
    """Add-k (Lidstone): p(w|h) = (c(hw) + k) / (Σ_v c(hv) + k|S|); uniform for unseen h.

    The posterior mean of p(.|h) under a symmetric Dirichlet(k) prior. ``k`` can be tuned on
    held-out data (``tune``: L-BFGS on log k).
    """

    tunable = True

    def __init__(self, k: float = 1.0):
        super().__init__()
        self.k = check_real("k", k, low=0, open_low=True, expected="a finite number > 0 (0 is MLE)")

    def fit(self, counts: NGramCounts, support: Tensor) -> AddK:
        self._set_support(counts, support)
        c = counts.level(counts.n).count.to(_F)
        self.register_buffer("c", c)  # (U_n,)
        self.register_buffer("den", _child_sum(counts, counts.n, c))  # (U_{n-1},)
        return self

    def _prob(self, c: Tensor, den: Tensor, words: Tensor, k: Tensor | float) -> Tensor:
        return (c + k) / (den + k * self.n_support) * self.support[words]

    def prob(self, ctx, grams, words):
        return self._prob(_gather(self.c, grams[-1]), _gather(self.den, ctx[-1]), words, self.k)

    def tune(self, ctx, grams, words, max_iter: int = 100, **kwargs) -> AddK:
        """Choose k minimizing the held-out cross-entropy."""
        c, den = _gather(self.c, grams[-1]), _gather(self.den, ctx[-1])
        log_k = torch.tensor(float(torch.log(torch.tensor(self.k))), dtype=_F, requires_grad=True)

        def loss():
            return -torch.log(self._prob(c, den, words, log_k.exp())).mean()

        _minimize(loss, [log_k], max_iter)
        self.k = float(log_k.detach().exp())
        return self

    def hyperparameters(self) -> dict:
        return {"k": self.k}


class Laplace(AddK):
    """Add-one smoothing: :class:`AddK` with k = 1 (NLTK's ``Laplace``)."""

    def __init__(self):
        super().__init__(1.0)


class StupidBackoff(Smoothing):
    """Stupid backoff (Brants et al. 2007): S(w|h) = c(hw)/Σ_v c(hv) if c(hw) > 0, else
    α·S(w|h'), with h' = h minus its first token and S(w) = c(w)/N at the bottom.

    **Not normalized**: the scores of the next tokens do not sum to 1, so it defines no
    probability model; ``perplexity`` / ``cross_entropy`` refuse it unless
    ``allow_unnormalized=True``. Sampling normalizes the scores at each step.
    """

    normalized = False

    def __init__(self, alpha: float = 0.4):
        super().__init__()
        self.alpha = check_real("alpha", alpha, low=0, high=1, open_low=True)

    def fit(self, counts: NGramCounts, support: Tensor) -> StupidBackoff:
        self._set_support(counts, support)
        self.cs = nn.ModuleList()
        for m in range(1, counts.n + 1):
            c = counts.level(m).count.to(_F)
            self.cs.append(_Tables(c=c, den=_child_sum(counts, m, c)))
        return self

    def prob(self, ctx, grams, words):
        s = None
        for m in range(1, self.n + 1):
            t = self.cs[m - 1]
            c, den = _gather(t.c, grams[m - 1]), _gather(t.den, ctx[m - 1])
            here = c / den.clamp(min=1)
            s = here if s is None else torch.where(c > 0, here, self.alpha * s)
        return s

    def hyperparameters(self) -> dict:
        return {"alpha": self.alpha}


class _Tables(nn.Module):
    """A bag of registered buffers."""

    def __init__(self, **tensors: Tensor):
        super().__init__()
        for name, t in tensors.items():
            self.register_buffer(name, t)


class _InterpolatedKN(Smoothing):
    """Interpolated Kneser–Ney with a discount table D of shape (n, 4), D[m-1, j] = discount of
    an m-gram whose count c' falls in bucket j = min(c', 3):

        p_m(w|h) = ( max(c'(hw) − D(c'(hw)), 0) + γ(h) p_{m−1}(w|h') ) / Σ_v c'(hv),
        γ(h)     = Σ_{v : c(hv) > 0} D(c'(hv)),

    with h' = h minus its first token; an unseen context backs off entirely (p_m = p_{m−1}).
    Below the unigram level sits the uniform distribution over the support (``uniform_base``),
    which keeps every token, ``<unk>`` included, at a positive probability; without it the
    unigram level is the plain continuation distribution c'(w)/Σ_v c'(v) (NLTK).
    """

    tunable = True

    def __init__(self, uniform_base: bool = True):
        super().__init__()
        self.uniform_base = check_bool("uniform_base", uniform_base)

    def fit(self, counts: NGramCounts, support: Tensor) -> _InterpolatedKN:
        self._set_support(counts, support)
        self.levels = nn.ModuleList()
        for m in range(1, counts.n + 1):
            lv = counts.level(m)
            cp = lv.count if m == counts.n else lv.cont  # c'(u)
            bucket = cp.clamp(max=3)
            seen = lv.count > 0
            onehot = torch.zeros((len(lv), 4), dtype=_F, device=cp.device)
            onehot[seen, bucket[seen]] = 1.0
            self.levels.append(
                _Tables(
                    cp=cp.to(_F),  # (U_m,)
                    bucket=bucket,  # (U_m,)
                    den=_child_sum(counts, m, torch.where(seen, cp, 0).to(_F)),  # (U_{m-1},)
                    nj=_child_sum(counts, m, onehot),  # (U_{m-1}, 4)
                )
            )
        self.register_buffer("D", self._initial_discounts(counts))  # (n, 4)
        return self

    @abstractmethod
    def _initial_discounts(self, counts: NGramCounts) -> Tensor:
        """The (n, 4) discount table before any tuning."""

    def _stats(self, ctx, grams):
        """Per order, the table entries the formula needs at each (h, w)."""
        out = []
        for m in range(1, self.n + 1):
            t = self.levels[m - 1]
            u, h = grams[m - 1], ctx[m - 1]
            cp, b = _gather(t.cp, u), _gather(t.bucket, u)
            den = _gather(t.den, h)
            nj = t.nj[h.clamp(min=0)]  # (..., 4); masked by den > 0 below
            out.append((cp, b, den, nj))
        return out

    def _prob_from(self, stats, words: Tensor, D: Tensor) -> Tensor:
        if self.uniform_base:
            p = self.support[words].to(_F) / self.n_support
        else:
            p = torch.zeros(words.shape, dtype=_F, device=words.device)
        for m, (cp, b, den, nj) in enumerate(stats, start=1):
            d = D[m - 1]  # (4,)
            if m == 1 and not self.uniform_base:
                d = torch.zeros_like(d)
            num = (cp - d[b]).clamp(min=0)
            gamma = nj @ d
            p = torch.where(den > 0, (num + gamma * p) / den.clamp(min=TINY), p)
        return p

    def prob(self, ctx, grams, words):
        return self._prob_from(self._stats(ctx, grams), words, self.D)

    @abstractmethod
    def _discounts_from(self, theta: Tensor) -> Tensor:
        """The (n, 4) discount table from unconstrained parameters (what ``tune`` optimizes)."""

    @abstractmethod
    def _theta0(self) -> Tensor:
        """Unconstrained parameters of the current discounts."""

    def tune(self, ctx, grams, words, max_iter: int = 200, **kwargs) -> _InterpolatedKN:
        """Choose the discounts minimizing the held-out cross-entropy (L-BFGS, exact gradient
        through the recursion above)."""
        stats = self._stats(ctx, grams)
        theta = self._theta0().detach().clone().requires_grad_(True)

        def loss():
            p = self._prob_from(stats, words, self._discounts_from(theta))
            return -torch.log(p.clamp(min=TINY)).mean()

        _minimize(loss, [theta], max_iter)
        self.D = self._discounts_from(theta).detach().clone()
        return self


class KneserNey(_InterpolatedKN):
    """Interpolated Kneser–Ney with one absolute discount d ∈ [0, 1] for every order and count.

    With ``uniform_base=False`` and NLTK's padding this is exactly NLTK's
    ``KneserNeyInterpolated(order, discount=d)``, quirks included (γ counts every seen child,
    even one whose continuation count is 0).
    """

    def __init__(self, discount: float = 0.75, uniform_base: bool = True):
        super().__init__(uniform_base)
        self.discount = check_real(
            "discount", discount, low=0, high=1, expected="a float in [0, 1]"
        )

    def _initial_discounts(self, counts):
        return torch.full(
            (counts.n, 4), self.discount, dtype=_F, device=counts.level(1).keys.device
        )

    def _theta0(self):
        d = min(max(self.discount, 1e-3), 1 - 1e-3)
        return torch.logit(torch.tensor(d, dtype=_F))

    def _discounts_from(self, theta):
        return torch.sigmoid(theta).expand(self.n, 4)

    def tune(self, ctx, grams, words, max_iter: int = 200, **kwargs) -> KneserNey:
        super().tune(ctx, grams, words, max_iter)
        self.discount = float(self.D[0, 0])
        return self

    def hyperparameters(self) -> dict:
        return {"discount": self.discount, "uniform_base": self.uniform_base}


class ModifiedKneserNey(_InterpolatedKN):
    """Interpolated modified Kneser–Ney (Chen & Goodman 1998): three discounts per order,
    D1 for c' = 1, D2 for c' = 2, D3+ for c' ≥ 3.

    ``discounts=None`` estimates them per order from the count-of-counts n_j of c':
    Y = n1/(n1 + 2 n2), D_j = j − (j+1) Y n_{j+1}/n_j. Or pass an ``(n, 3)`` table (row m-1 for
    the m-grams), or call ``tune`` on held-out data.
    """

    def __init__(self, discounts: Tensor | None = None, uniform_base: bool = True):
        super().__init__(uniform_base)
        if discounts is not None:
            discounts = torch.as_tensor(discounts, dtype=_F)
            if discounts.ndim != 2 or discounts.shape[1] != 3:
                raise ValueError(
                    f"discounts must have shape (n, 3) (D1, D2, D3+ per order), got "
                    f"{tuple(discounts.shape)}"
                )
            hi = torch.tensor([1.0, 2.0, 3.0], dtype=_F)
            if (discounts < 0).any() or (discounts > hi).any():
                raise ValueError(f"discounts must satisfy 0 <= D_j <= j, got {discounts.tolist()}")
        self.discounts = discounts

    def _initial_discounts(self, counts):
        dev = counts.level(1).keys.device
        D = torch.zeros((counts.n, 4), dtype=_F, device=dev)
        if self.discounts is not None:
            if self.discounts.shape[0] != counts.n:
                raise ValueError(
                    f"discounts has {self.discounts.shape[0]} rows but the model has n = "
                    f"{counts.n} orders (row m-1 holds the discounts of the m-grams)"
                )
            D[:, 1:] = self.discounts.to(dev)
            return D
        for m in range(1, counts.n + 1):
            lv = counts.level(m)
            cp = (lv.count if m == counts.n else lv.cont)[lv.count > 0]
            nc = torch.bincount(cp.clamp(max=5), minlength=6).to(_F)
            n1, n2, n3, n4 = (float(nc[j]) for j in range(1, 5))
            y = n1 / max(n1 + 2 * n2, 1.0)
            est = torch.tensor(  # a count-of-count of 0 in a denominator is read as 1
                [
                    j - (j + 1) * y * nj1 / max(nj, 1.0)
                    for j, nj, nj1 in ((1, n1, n2), (2, n2, n3), (3, n3, n4))
                ],
                dtype=_F,
            )
            lo = torch.tensor([0.05, 0.1, 0.15], dtype=_F)
            hi = torch.tensor([0.99, 1.98, 2.97], dtype=_F)
            D[m - 1, 1:] = torch.minimum(torch.maximum(est, lo), hi).to(dev)
        return D

    _SCALE = torch.tensor([1.0, 2.0, 3.0], dtype=_F)

    def _theta0(self):
        frac = (self.D[:, 1:].cpu() / self._SCALE).clamp(1e-3, 1 - 1e-3)
        return torch.logit(frac).to(self.D.device)

    def _discounts_from(self, theta):
        d = torch.sigmoid(theta) * self._SCALE.to(theta.device)  # (n, 3)
        return torch.cat([torch.zeros_like(d[:, :1]), d], dim=1)  # (n, 4)

    def tune(self, ctx, grams, words, max_iter: int = 200, **kwargs) -> ModifiedKneserNey:
        super().tune(ctx, grams, words, max_iter)
        self.discounts = self.D[:, 1:].cpu().clone()
        return self

    def hyperparameters(self) -> dict:
        d = self.D[:, 1:] if hasattr(self, "D") else self.discounts
        return {
            "discounts": None if d is None else [[round(float(x), 4) for x in r] for r in d],
            "uniform_base": self.uniform_base,
        }


def _minimize(loss_fn, params: list[Tensor], max_iter: int) -> None:
    """L-BFGS with a strong-Wolfe line search on a smooth scalar loss."""
    minimize(loss_fn, params, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-12)


SMOOTHINGS = {
    "mle": MLE,
    "laplace": Laplace,
    "add-k": AddK,
    "kneser-ney": KneserNey,
    "modified-kneser-ney": ModifiedKneserNey,
    "stupid-backoff": StupidBackoff,
}


def make_smoothing(smoothing: str | Smoothing) -> Smoothing:
    """A fresh strategy from a name in :data:`SMOOTHINGS` or a copy of a given one."""
    import copy

    if isinstance(smoothing, Smoothing):
        return copy.deepcopy(smoothing)
    if isinstance(smoothing, str):
        if smoothing in SMOOTHINGS:
            return SMOOTHINGS[smoothing]()
        raise ValueError(
            f"smoothing must be one of {sorted(SMOOTHINGS)} or a Smoothing, got {smoothing!r}"
        )
    raise TypeError(
        f"smoothing must be a str or a Smoothing instance, got {type(smoothing).__name__}"
    )
