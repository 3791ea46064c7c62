"""The feature families of naive Bayes: each p(x_block | y) as a module of class-indexed tables.

Each is a ``Features`` (the protocol in ``naive_bayes_family``): ``GaussianFeatures`` (Normal,
scikit-learn's GaussianNB), ``BernoulliFeatures`` (BernoulliNB), ``CategoricalFeatures``
(CategoricalNB) and ``MultinomialFeatures`` (one count vector, MultinomialNB). Elementwise work
runs in blocks of rows through one scratch buffer of about ``chunk_bytes`` (cache-sized).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.distributions import Bernoulli, Categorical, Multinomial, Normal

from .._checks import check_int
from .._constants import TINY
from .naive_bayes_family import Features
from .naive_bayes_stats import (
    CHUNK_BYTES,
    class_moments,
    class_sum,
    class_weight,
    is_integral,
    observed,
    observed_bounds,
    pool,
    rows_per_block,
    safe_mm,
    smoothing_on,
)

__all__ = [
    "FAMILIES",
    "CHUNK_BYTES",
    "Features",
    "GaussianFeatures",
    "BernoulliFeatures",
    "CategoricalFeatures",
    "MultinomialFeatures",
    "make_features",
    "feature_class",
    "FAMILY_ATTRS",
    "class_weight",
    "observed_bounds",
]

FAMILIES = ("gaussian", "bernoulli", "categorical", "multinomial")


class GaussianFeatures(Features):
    """x_d | y=c ~ Normal(theta_[c, d], var_[c, d]).

    MLE: theta = weighted mean, var = weighted variance (ddof 0) of the class's rows, plus
    epsilon_ = var_smoothing * max_d Var(x_d) of the batch last seen (GaussianNB's convention).
    A batch's statistics (count, mean, M2) come from ``_class_moments`` (two passes over X) and
    are merged into the running ones with Chan et al.'s parallel update.
    """

    kind = "gaussian"

    def __init__(self, columns, n_classes, dtype, device, var_smoothing: float = 1e-9):
        self.var_smoothing = var_smoothing
        super().__init__(columns, n_classes, dtype, device)

    @classmethod
    def options(cls, model: Any, alpha: float | Tensor) -> dict[str, Any]:
        return {"var_smoothing": model.var_smoothing}

    def network_factors(self, y: Any, names: list[str]) -> dict[int, Any]:
        from ..factors import Gaussian
        from ..variables import Continuous

        return {
            j: Gaussian(
                Continuous(names[j]), [y], mean=self.theta_[:, i], std=self.var_[:, i].sqrt()
            )
            for i, j in enumerate(self.columns.tolist())
        }

    def reset(self, device=None) -> None:
        C, D = self.n_classes, self.n_features
        self.register_buffer("count_", self._zeros(C, D, device=device))  # (C, D) observed weight
        self.register_buffer("mean_", self._zeros(C, D, device=device))  # (C, D)
        self.register_buffer("m2_", self._zeros(C, D, device=device))  # (C, D) Σ w (x - mean)^2
        self.register_buffer("theta_", self._zeros(C, D, device=device))
        self.register_buffer("var_", self._zeros(C, D, device=device))
        self.epsilon_ = 0.0

    def summarize(self, x, miss, y, w, chunk_bytes=CHUNK_BYTES) -> None:
        x0, m = observed(x, miss)
        C = self.n_classes
        n_b, mean_b, m2_b = class_moments(x0, m, y, w, C, chunk_bytes)  # (C, D) each
        n_a, mean_a, m2_a = self.count_, self.mean_, self.m2_
        n = n_a + n_b
        delta = mean_b - mean_a
        frac = torch.where(n > 0, n_b / n.clamp_min(torch.finfo(x.dtype).tiny), 0.0)  # Chan
        self.mean_ = mean_a + delta * frac
        self.m2_ = m2_a + m2_b + delta**2 * n_a * frac
        self.count_ = n
        # epsilon from this batch's unweighted per-feature variance, as GaussianNB does: with
        # unit weights the class moments pool into it exactly, else one more (one-class) pass
        if w is None:
            cnt, _, m2 = pool(n_b, mean_b, m2_b)  # (D,)
        else:  # every row in a single class, unweighted
            moments = class_moments(x0, m, y.new_zeros(len(y)), None, 1, chunk_bytes)
            cnt, _, m2 = (t[0] for t in moments)  # (D,)
        var = (m2 / cnt.clamp_min(1))[cnt > 0]  # (D_observed,)
        if var.numel():
            self.epsilon_ = self.var_smoothing * float(var.max())

    def from_summaries(self) -> None:
        self.theta_ = self.mean_.clone()
        var = torch.where(self.count_ > 0, self.m2_ / self.count_.clamp_min(TINY), 0.0)
        self.var_ = var + self.epsilon_

    def distribution(self) -> Normal:
        return Normal(self.theta_, self.var_.sqrt())  # batch (C, D)

    def forward(self, y: Tensor) -> Normal:
        return Normal(self.theta_[y], self.var_[y].sqrt())  # batch (B, D)

    def log_likelihood(self, x, miss, constant=True, chunk_bytes=CHUNK_BYTES) -> Tensor:
        # Σ_d log N(x_d; θ_cd, v_cd) = -½ Σ_d (x_d - θ_cd)² / v_cd - ½ Σ_d log 2π v_cd, with the
        # squares formed from exact differences (no expansion that could cancel), in blocks of
        # rows through one (b, C, D) scratch buffer
        x0, m = observed(x, miss)
        B, D = x.shape
        C = self.theta_.shape[0]
        half_iv = 0.5 / self.var_  # (C, D)
        log_norm = -0.5 * torch.log(2 * math.pi * self.var_)  # (C, D)
        out = x.new_empty(B, C)
        step = rows_per_block(C * D * x.element_size(), chunk_bytes)
        buf = x.new_empty(min(step, B), C, D)
        for i in range(0, B, step):
            xb = x0[i : i + step]
            diff = torch.sub(xb[:, None, :], self.theta_, out=buf[: len(xb)])  # (b, C, D)
            diff.square_().mul_(half_iv)
            if m is not None:
                diff.mul_(m[i : i + step, None, :])
            torch.sum(diff, -1, out=out[i : i + step])  # (b, C)
        out.neg_()
        return out.add_(log_norm.sum(1) if m is None else m @ log_norm.T)


class BernoulliFeatures(Features):
    """x_d | y=c ~ Bernoulli(p[c, d]) with p = (N_cd(x_d=1) + alpha) / (N_cd + 2 alpha).

    ``binarize``: threshold t mapping x to 1[x > t] (BernoulliNB's); None requires 0/1 data.
    """

    kind = "bernoulli"

    def __init__(self, columns, n_classes, dtype, device, alpha=1.0, binarize=0.0):
        self.alpha = alpha
        self.binarize = binarize
        super().__init__(columns, n_classes, dtype, device)

    @classmethod
    def options(cls, model: Any, alpha: float | Tensor) -> dict[str, Any]:
        return {"alpha": alpha, "binarize": model.binarize}

    def network_factors(self, y: Any, names: list[str]) -> dict[int, Any]:
        from ..factors import Table
        from ..variables import Discrete

        out = {}
        for i, j in enumerate(self.columns.tolist()):
            p1 = self.feature_log_prob_[:, i].exp()  # (C,)
            probs = torch.stack([1 - p1, p1], -1)
            out[j] = Table(Discrete(names[j], ["0", "1"]), [y], probs=probs)
        return out

    def reset(self, device=None) -> None:
        C, D = self.n_classes, self.n_features
        self.register_buffer("feature_count_", self._zeros(C, D, device=device))  # Σ w x
        self.register_buffer("count_", self._zeros(C, D, device=device))  # Σ w over observed
        self.register_buffer("feature_log_prob_", self._zeros(C, D, device=device))  # log p
        self.register_buffer("neg_log_prob_", self._zeros(C, D, device=device))  # log(1 - p)

    def check(self, x, miss, where, bounds=None) -> Tensor:
        if self.binarize is not None:
            b = (x > self.binarize).to(x.dtype)
            return b if miss is None else b.masked_fill(miss, math.nan)
        x0, _ = observed(x, miss)
        lo, hi = bounds if bounds is not None else observed_bounds(x, miss)
        if lo < 0 or hi > 1 or not is_integral(x0):  # every value 0 or 1
            bad = (x0 != 0) & (x0 != 1)
            vals = torch.unique(x[bad])[:5].tolist()
            raise ValueError(
                f"Bernoulli features of X in {where} must be 0 or 1 when binarize=None; got "
                f"values {vals}; pass binarize=<threshold> to map x to 1[x > threshold]"
            )
        return x

    def summarize(self, x, miss, y, w, chunk_bytes=CHUNK_BYTES) -> None:
        x0, m = observed(x, miss)
        C = self.n_classes
        self.feature_count_ += class_sum(x0, y, w, C, chunk_bytes)  # (C, D) Σ w x
        if m is None:
            self.count_ += class_weight(y, w, C, x0.dtype)[:, None]  # (C, 1) Σ w
        else:
            self.count_ += class_sum(m, y, w, C, chunk_bytes)  # (C, D) Σ w over observed

    def from_summaries(self) -> None:
        a = smoothing_on(self.alpha, self.count_)  # float or (D,)
        denom = torch.log(self.count_ + 2 * a)
        self.feature_log_prob_ = torch.log(self.feature_count_ + a) - denom
        self.neg_log_prob_ = torch.log(self.count_ - self.feature_count_ + a) - denom

    @property
    def logits_(self) -> Tensor:
        return self.feature_log_prob_ - self.neg_log_prob_  # (C, D)

    def distribution(self) -> Bernoulli:
        return Bernoulli(logits=self.logits_)

    def forward(self, y: Tensor) -> Bernoulli:
        return Bernoulli(logits=self.logits_[y])

    def log_likelihood(self, x, miss, constant=True, chunk_bytes=0) -> Tensor:
        # Σ_d [x_d log p + (1 - x_d) log(1 - p)] as two matmuls: Bernoulli(logits).log_prob
        # summed without a (B, C, D) tensor, and exact at alpha=0 where log p = -inf
        one, m = observed(x, miss)  # (B, D)
        zero = 1.0 - one if m is None else m - one
        return safe_mm(one, self.feature_log_prob_) + safe_mm(zero, self.neg_log_prob_)


class CategoricalFeatures(Features):
    """x_d | y=c ~ Categorical(theta[c, d, :K_d]), states coded 0..K_d - 1, K_d per feature.

    theta[c, d, k] = (N_cdk + alpha) / (N_cd + alpha K_d), K_d = max(observed max + 1,
    min_categories). Probabilities are a padded (C, D, K_max) table, -inf beyond K_d.
    """

    kind = "categorical"

    def __init__(self, columns, n_classes, dtype, device, alpha=1.0, min_categories=None):
        self.alpha = alpha
        self.min_categories = min_categories
        super().__init__(columns, n_classes, dtype, device)

    @classmethod
    def options(cls, model: Any, alpha: float | Tensor) -> dict[str, Any]:
        return {
            "alpha": alpha if isinstance(alpha, float) else alpha[:, None],  # (D_f, 1)
            "min_categories": model.min_categories,
        }

    def network_factors(self, y: Any, names: list[str]) -> dict[int, Any]:
        from ..factors import Table
        from ..variables import Discrete

        out = {}
        for i, j in enumerate(self.columns.tolist()):
            k = int(self.n_categories_[i])
            probs = self.log_probs_[:, i, :k].exp()  # (C, K_d)
            out[j] = Table(Discrete(names[j], k), [y], probs=probs)
        return out

    def reset(self, device=None) -> None:
        C, D = self.n_classes, self.n_features
        mc = self.min_categories
        mc = np.zeros(D, dtype=np.int64) if mc is None else np.broadcast_to(mc, (D,)).copy()
        self.register_buffer("n_categories_", torch.as_tensor(mc, dtype=torch.long, device=device))
        K = int(mc.max(initial=1))
        self.register_buffer("category_counts_", self._zeros(C, D, K, device=device))
        self.register_buffer("log_probs_", self._zeros(C, D, K, device=device))

    def check(self, x, miss, where, bounds=None) -> Tensor:
        v, _ = observed(x, miss)
        lo, hi = bounds if bounds is not None else observed_bounds(x, miss)
        if lo < 0 or not is_integral(v):  # integer codes >= 0
            bad = (v < 0) | (v != torch.round(v))
            vals = torch.unique(v[bad])[:5].tolist()
            raise ValueError(
                f"categorical features of X in {where} must be integer codes >= 0; got {vals}"
            )
        # a state unknown to the model; the per-feature pass only when the max could be one
        if where != "fit" and self.n_features and hi >= int(self.n_categories_.min()):
            if (v.amax(0) >= self.n_categories_.to(x.dtype)).any():  # NaN entries were set to 0
                over = v >= self.n_categories_.to(x.dtype)
                r, d = (int(i) for i in over.nonzero()[0])
                raise ValueError(
                    f"categorical feature {int(self.columns[d])} of X has value "
                    f"{int(x[r, d])} but the model knows states "
                    f"0..{int(self.n_categories_[d]) - 1} (n_categories_)"
                )
        return x

    @staticmethod
    def _codes(
        x: Tensor, miss: Tensor | None, out: Tensor, K: int, missing: int, base: Tensor | None
    ) -> Tensor:
        """Flat codes base_b + d * K + x_bd of a block of rows x (b, D), written into ``out``
        (b, D) int64; a missing entry gets the code ``missing``."""
        if miss is not None:
            x = x.masked_fill(miss, 0.0)
        out.copy_(x)  # float codes -> int64, exact (checked integral)
        out.add_(torch.arange(0, x.shape[1] * K, K, device=x.device))  # (D,)
        if base is not None:
            out.add_(base)
        return out if miss is None else out.masked_fill_(miss, missing)

    def summarize(self, x, miss, y, w, chunk_bytes=CHUNK_BYTES) -> None:
        # counts N_cdk = Σ_b w_b [y_b = c, x_bd = k]: a weighted scatter-add of the flat codes
        # (y_b * D + d) * K + x_bd, one block of rows at a time
        B, D = x.shape
        if B:
            seen = x.amax(0) if miss is None else x.masked_fill(miss, -1.0).amax(0)  # (D,)
            self.n_categories_ = torch.maximum(self.n_categories_, seen.long() + 1)
        K = int(self.n_categories_.max()) if self.n_features else 1
        C, _, K_old = self.category_counts_.shape
        if K > K_old:  # new states: pad the count table
            pad = self._zeros(C, D, K - K_old, device=x.device)
            self.category_counts_ = torch.cat([self.category_counts_, pad], -1)
        size = C * D * K
        counts = x.new_zeros(size + 1)  # (C*D*K + 1,): the last slot gathers missing entries
        step = rows_per_block(D * (8 + x.element_size()), chunk_bytes)
        codes = torch.empty(min(step, B), D, dtype=torch.long, device=x.device)
        for i in range(0, B, step):
            xb, mb = x[i : i + step], None if miss is None else miss[i : i + step]  # (b, D)
            yb = y[i : i + step, None] * (D * K)  # (b, 1) the class's (D, K) slab
            c = self._codes(xb, mb, codes[: len(xb)], K, size, yb)  # (b, D)
            wb = counts.new_ones(1, 1) if w is None else w[i : i + step, None]  # (b or 1, 1)
            counts.index_add_(0, c.view(-1), wb.expand(c.shape).reshape(-1))  # w_b at (b, d)
        self.category_counts_ = self.category_counts_ + counts[:size].view(C, D, K)

    def from_summaries(self) -> None:
        C, D, K = self.category_counts_.shape
        k = torch.arange(K, device=self.category_counts_.device)
        valid = k[None, :] < self.n_categories_[:, None]  # (D, K)
        smoothed = self.category_counts_ + smoothing_on(
            self.alpha, self.category_counts_
        )  # (C, D, K)
        total = (smoothed * valid).sum(-1, keepdim=True)  # (C, D, 1)
        lp = torch.log(smoothed) - torch.log(total)
        self.log_probs_ = lp.masked_fill(~valid, -math.inf)

    @property
    def feature_log_prob_(self) -> list[Tensor]:
        """CategoricalNB's list: one (C, K_d) table per feature."""
        return [self.log_probs_[:, d, : int(k)] for d, k in enumerate(self.n_categories_)]

    @property
    def category_count_(self) -> list[Tensor]:
        return [self.category_counts_[:, d, : int(k)] for d, k in enumerate(self.n_categories_)]

    def distribution(self) -> Categorical:
        return Categorical(logits=self.log_probs_, validate_args=False)  # batch (C, D)

    def forward(self, y: Tensor) -> Categorical:
        return Categorical(logits=self.log_probs_[y], validate_args=False)  # batch (B, D)

    def log_likelihood(self, x, miss, constant=True, chunk_bytes=CHUNK_BYTES) -> Tensor:
        # Categorical.log_prob for every class is a lookup in the (D * K, C) table of
        # log-probabilities at row d * K + x_d, summed over d: an index_select of the rows of a
        # block of x into one (b * D, C) buffer, then a sum over d (no (B, D, C) tensor). A
        # missing x_d looks up an extra row of zeros.
        C, D, K = self.log_probs_.shape
        B = x.shape[0]
        table = self.log_probs_.permute(1, 2, 0).reshape(D * K, C)  # (D*K, C), O(C D K) work
        table = torch.cat([table, table.new_zeros(1, C)])  # row D*K: the dropped factor
        out = x.new_empty(B, C)
        step = rows_per_block(D * (8 + C * x.element_size()), chunk_bytes)
        codes = torch.empty(min(step, B), D, dtype=torch.long, device=x.device)
        rows = x.new_empty(min(step, B) * D, C)
        for i in range(0, B, step):
            xb, mb = x[i : i + step], None if miss is None else miss[i : i + step]  # (b, D)
            c = self._codes(xb, mb, codes[: len(xb)], K, D * K, None).view(-1)  # (b*D,)
            lp = torch.index_select(table, 0, c, out=rows[: len(c)])  # (b*D, C)
            torch.sum(lp.view(len(xb), D, C), 1, out=out[i : i + step])  # (b, C)
        return out


class MultinomialFeatures(Features):
    """x | y=c ~ Multinomial(n = Σ_d x_d, theta[c]), theta[c, d] = (N_cd + alpha) / Σ_d (...).

    The log-pmf includes the multinomial coefficient log n! - Σ_d log x_d! (scikit-learn's joint
    log-likelihood leaves it out; it does not depend on y, so posteriors agree).
    """

    kind = "multinomial"

    def __init__(self, columns, n_classes, dtype, device, alpha=1.0):
        self.alpha = alpha
        super().__init__(columns, n_classes, dtype, device)

    @classmethod
    def options(cls, model: Any, alpha: float | Tensor) -> dict[str, Any]:
        return {"alpha": alpha}

    def network_factors(self, y: Any, names: list[str]) -> dict[int, Any]:
        """One factor for the whole count vector, at its first column."""
        from ..variables import Continuous
        from .naive_bayes_network import MultinomialCounts

        cols = self.columns.tolist()
        x = Continuous("counts[" + ",".join(names[j] for j in cols) + "]", shape=(len(cols),))
        return {cols[0]: MultinomialCounts(x, y, self)}

    def reset(self, device=None) -> None:
        C, D = self.n_classes, self.n_features
        self.register_buffer("feature_count_", self._zeros(C, D, device=device))
        self.register_buffer("feature_log_prob_", self._zeros(C, D, device=device))
        self.register_buffer("total_count_", self._zeros(2, device=device))  # Σ n, rows seen

    def check(self, x, miss, where, bounds=None) -> Tensor:
        if miss is not None:
            partial = miss.any(1) & ~miss.all(1)
            if partial.any():
                row = int(partial.nonzero()[0])
                raise ValueError(
                    f"multinomial features of X in {where} form one count vector, which may be "
                    f"missing (NaN) as a whole but not in part; row {row} is partly NaN"
                )
        lo, _ = bounds if bounds is not None else observed_bounds(x, miss)
        if lo < 0:
            raise ValueError(
                f"multinomial features of X in {where} must be counts >= 0; got min {lo}"
            )
        return x

    def summarize(self, x, miss, y, w, chunk_bytes=CHUNK_BYTES) -> None:
        x0, _ = observed(x, miss)
        rows = x.shape[0] if miss is None else int((~miss.any(1)).sum())
        counts = class_sum(x0, y, w, self.n_classes, chunk_bytes)  # (C, D) Σ w x
        self.feature_count_ += counts
        n = counts.sum() if w is None else x0.sum()  # Σ_b n_b, unweighted
        self.total_count_ += torch.stack([n, x0.new_tensor(float(rows))])

    def from_summaries(self) -> None:
        s = self.feature_count_ + smoothing_on(self.alpha, self.feature_count_)
        self.feature_log_prob_ = torch.log(s) - torch.log(s.sum(1, keepdim=True))

    @property
    def mean_total_(self) -> float:
        """Mean number of counts per row seen in training: the default n for sampling."""
        n, rows = self.total_count_.tolist()
        return n / rows if rows else 0.0

    def distribution(self, total_count: int = 1) -> Multinomial:
        return Multinomial(total_count, logits=self.feature_log_prob_, validate_args=False)

    def forward(self, y: Tensor, total_count: int = 1) -> Multinomial:
        return Multinomial(total_count, logits=self.feature_log_prob_[y], validate_args=False)

    def log_likelihood(self, x, miss, constant=True, chunk_bytes=0) -> Tensor:
        # Multinomial(logits).log_prob as a matmul (a (B, C, V) broadcast would not scale to a
        # vocabulary): log n! - Σ_d log x_d! + Σ_d x_d log theta_cd; the coefficient does not
        # depend on y and is skipped when constant=False (posteriors)
        x0, _ = observed(x, miss)
        out = safe_mm(x0, self.feature_log_prob_)  # (B, C)
        if constant:
            coef = torch.lgamma(x0.sum(1) + 1) - torch.lgamma(x0 + 1).sum(1)  # (B,)
            out = out + coef[:, None]
        return out if miss is None else out.masked_fill(miss.any(1)[:, None], 0.0)

    def sample(self, y: Tensor, total_count: int | None = None, **kwargs: Any) -> Tensor:
        n = round(self.mean_total_) if total_count is None else total_count
        n = check_int("total_count", n, low=0)
        return self(y, n).sample().to(self.dtype)


FAMILY_ATTRS = {
    "theta_": ("gaussian",),
    "var_": ("gaussian",),
    "epsilon_": ("gaussian",),
    "feature_count_": ("bernoulli", "multinomial"),
    "feature_log_prob_": ("bernoulli", "multinomial", "categorical"),
    "category_count_": ("categorical",),
    "n_categories_": ("categorical",),
}


def feature_class(kind: str) -> type[Features]:
    """The family named ``kind``, one of ``FAMILIES``."""
    if kind == "gaussian":
        return GaussianFeatures
    elif kind == "bernoulli":
        return BernoulliFeatures
    elif kind == "categorical":
        return CategoricalFeatures
    elif kind == "multinomial":
        return MultinomialFeatures
    else:
        raise ValueError(f"features must be one of {FAMILIES}; got {kind!r}")


def make_features(
    kind: str, columns: list[int], n_classes: int, model: Any, alpha: float | Tensor, device
) -> Features:
    """The family named ``kind`` over ``columns`` of X, with a NaiveBayes ``model``'s options
    (``alpha``: its smoothing of these columns)."""
    cls = feature_class(kind)
    return cls(columns, n_classes, model.dtype, device, **cls.options(model, alpha))
