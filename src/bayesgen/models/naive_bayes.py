"""Naive Bayes (eq. 10 of the chapter): a class label y with conditionally independent features.

The Bayesian network is y -> x_1, ..., y -> x_D, so

    p(x, y) = p(y) Π_d p(x_d | y),        p(y | x) = p(x, y) / Σ_c p(x, c)   (Bayes' rule).

p(y) is a categorical table; each p(x_d | y) is a torch distribution whose parameters are indexed
by the class: Normal (Gaussian features), Bernoulli (binary), Categorical (one discrete feature
with its own number of states) or Multinomial (all "multinomial" columns together form one vector
of counts, a bag of words). Families can be mixed per feature; the joint log-likelihood is the sum
of the families' log-likelihoods plus log p(y).

Learning is closed-form MLE/MAP from sufficient statistics, split pomegranate-style into
``summarize`` (accumulate statistics of a batch) and ``from_summaries`` (set the parameters from
everything accumulated), so ``partial_fit`` streams. The smoothing conventions are
scikit-learn's (``var_smoothing`` for Gaussian, ``alpha`` pseudo-counts for the discrete families,
``binarize`` for Bernoulli, ``class_prior`` / ``fit_prior``), so the probabilities agree with
GaussianNB, BernoulliNB, CategoricalNB and MultinomialNB.

Missing values (NaN) are marginalized: the factor p(x_d | y) of a missing feature integrates to 1
and is dropped. In ``fit`` a missing entry is likewise left out of its feature's statistics; since
y is observed and the factors share no parameters, this is the exact MLE of the observed data.
A multinomial count vector is one variable: it may be missing as a whole, not in part.

Cost: per-class sums Σ_b w_b [y_b = c] x_b are scatter-adds of rows (index_add_: B * D adds,
where the one-hot matmul Yw.T @ X costs 2 B C D flops at far below BLAS peak for so few
classes); predictions are matmuls (Bernoulli, multinomial) or gathers (categorical); whatever
is elementwise runs in blocks of rows through one scratch buffer of about ``chunk_bytes``
(cache-sized), so no (B, D)-sized temporary is made on the complete-data path. Besides one
min/max pass for validation, fit reads X once (Bernoulli, multinomial, categorical) or twice
(Gaussian: the class means, then the centered squares).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import Categorical

from .._checks import check_dtype, check_int, check_option, check_real
from ..network import BayesNet
from .base import Model, forked_rng
from .naive_bayes_features import (
    CHUNK_BYTES,
    FAMILIES,
    FAMILY_ATTRS,
    BernoulliFeatures,
    CategoricalFeatures,
    GaussianFeatures,
    MultinomialFeatures,
    class_weight,
    make_features,
    observed_bounds,
)

__all__ = [
    "NaiveBayes",
    "GaussianFeatures",
    "BernoulliFeatures",
    "CategoricalFeatures",
    "MultinomialFeatures",
    "FAMILIES",
]


# ---------------------------------------------------------------------------------- the model
class NaiveBayes(Model):
    """Naive Bayes classifier and generative model p(x, y) = p(y) Π_d p(x_d | y) (eq. 10).

    Parameters
    ----------
    features : "gaussian" | "bernoulli" | "categorical" | "multinomial", a list with one of these
        per column, or a dict {column: family} (column = index, or name for a DataFrame).
    alpha : additive (Laplace/Lidstone) smoothing of the discrete families, >= 0: one value,
        one per column of X (a list), or a dict {column: value} like ``features``.
    var_smoothing : Gaussian variances get + var_smoothing * max_d Var(x_d), >= 0.
    binarize : threshold for Bernoulli features (x -> 1[x > binarize]); None: data must be 0/1.
    min_categories : minimum number of states of each categorical feature (int or per feature).
    fit_prior : learn p(y) from class frequencies (else uniform); class_prior overrides both.
    dtype, device : where the parameters live; ``.to(device)`` moves a fitted model.
    chunk_bytes : scratch memory of one block of rows in fit and predict (the default is
        cache-sized; larger blocks do not go faster).

    Learned: ``classes_``, ``class_count_``, ``class_log_prior_``, ``n_features_in_`` and one
    submodule per family in ``families_`` with scikit-learn's names (``theta_``, ``var_``,
    ``epsilon_``, ``feature_count_``, ``feature_log_prob_``, ``category_count_``,
    ``n_categories_``), also readable on the model when one family owns the name.
    """

    def __init__(
        self,
        features: str | Sequence[str] | Mapping[Any, str] = "gaussian",
        *,
        alpha: float = 1.0,
        var_smoothing: float = 1e-9,
        binarize: float | None = 0.0,
        min_categories: int | Sequence[int] | None = None,
        fit_prior: bool = True,
        class_prior: Sequence[float] | None = None,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device | None = None,
        chunk_bytes: int = CHUNK_BYTES,
    ):
        super().__init__()
        if isinstance(features, str):
            check_option("features", features, FAMILIES)
        if not isinstance(alpha, Sequence | Mapping | np.ndarray | Tensor):
            _check_nonneg(alpha, "alpha")
        _check_nonneg(var_smoothing, "var_smoothing")
        check_real("binarize", binarize, finite=False, optional=True)
        check_dtype("dtype", dtype, choices=None)
        self.features = features
        self.alpha = (
            alpha if isinstance(alpha, Sequence | Mapping | np.ndarray | Tensor) else float(alpha)
        )
        self.var_smoothing = float(var_smoothing)
        self.binarize = binarize
        self.min_categories = min_categories
        self.fit_prior = bool(fit_prior)
        self.class_prior = class_prior
        self.dtype = dtype
        self.device = device
        self.chunk_bytes = int(chunk_bytes)
        self.families_ = nn.ModuleDict()

    # ------------------------------------------------------------------ state
    def get_extra_state(self) -> dict[str, Any]:
        state = super().get_extra_state()
        if hasattr(self, "classes_"):
            state["classes_"] = self.classes_.tolist()
            state["families"] = {k: f.columns.tolist() for k, f in self.families_.items()}
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            state["feature_names_in_"] = [str(n) for n in names]
        return state

    def set_extra_state(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state.pop("families", None)
        for name in ("classes_", "feature_names_in_"):
            if name in state:
                object.__setattr__(self, name, np.asarray(state.pop(name)))
        super().set_extra_state(state)

    def _load_from_state_dict(self, state_dict, prefix, *args: Any, **kwargs: Any) -> None:
        # the feature families are made by fit: make them (their buffers take the saved shapes)
        extra = state_dict.get(prefix + "_extra_state", {})
        families = extra.get("families", {}) if isinstance(extra, dict) else {}
        if families and not len(self.families_):
            C = len(extra["classes_"])
            D = extra["n_features_in_"]
            alpha = self._resolve_alpha(None, D)
            dev = state_dict[prefix + "class_count_"].device
            for kind, cols in families.items():
                a = alpha if isinstance(alpha, float) else alpha[cols].to(dev)  # (D_f,)
                self.families_[kind] = make_features(kind, cols, C, self, a, dev)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ structure
    @property
    def network(self) -> BayesNet:
        """The fitted model as the network of figure 3, y → x_1..x_D, one factor per feature
        (see :mod:`bayesgen.models.naive_bayes_network`); its ``log_prob`` of (x, y) is
        :meth:`log_prob` with y."""
        from .naive_bayes_network import naive_bayes_network

        self._check_fitted()
        return naive_bayes_network(self)

    @property
    def feature_kinds_(self) -> list[str]:
        """The family of each column of X."""
        kinds = [""] * self.n_features_in_
        for kind, fam in self.families_.items():
            for c in fam.columns.tolist():
                kinds[c] = kind
        return kinds

    def _device(self):
        buf = getattr(self, "class_count_", None)
        if buf is not None:
            return buf.device
        return torch.device(self.device) if self.device is not None else torch.device("cpu")

    def _dtype(self) -> torch.dtype:
        buf = getattr(self, "class_count_", None)
        return buf.dtype if buf is not None else self.dtype

    _fitted_attrs = ("classes_",)

    # ------------------------------------------------------------------ input handling
    def _X(self, X, where: str) -> Tensor:
        """X as a (B, D) tensor in the model's dtype/device, each family's block validated."""
        if hasattr(X, "to_numpy") and hasattr(X, "columns"):  # pandas DataFrame
            X = X.to_numpy(dtype=np.float64)
        if not isinstance(X, Tensor):
            try:
                # X is only read: a float64 array is used in place (no copy), except where
                # torch.from_numpy refuses it (read-only or negatively strided)
                arr = np.asarray(X, dtype=np.float64)
                if not arr.flags.writeable or min(arr.strides, default=0) < 0:
                    arr = arr.copy()
                X = torch.from_numpy(arr)
            except (TypeError, ValueError) as e:
                raise TypeError(f"X must be a numeric array (n_samples, n_features): {e}") from e
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {tuple(X.shape)}")
        fitted = getattr(self, "class_count_", None) is not None and hasattr(self, "classes_")
        X = X.to(device=self._device() if fitted else X.device, dtype=self._dtype())
        if hasattr(self, "n_features_in_") and X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features but this NaiveBayes was fitted with "
                f"n_features_in_={self.n_features_in_}"
            )
        return X

    def _blocks(self, X: Tensor, where: str) -> dict[str, tuple[Tensor, Tensor | None]]:
        """kind -> (validated block of X, its NaN mask or None when the block is complete).

        One min/max pass per block decides the common case (finite bounds: complete) and
        hands the bounds to the family's check (range tests without another pass)."""
        out = {}
        for kind, fam in self.families_.items():
            x = fam.block(X)
            bounds, miss = observed_bounds(x), None
            if not all(map(math.isfinite, bounds)) and x.numel():  # NaN or inf somewhere
                if torch.isinf(x).any():
                    raise ValueError(
                        f"X in {where} contains inf; only finite values or NaN (missing)"
                    )
                miss = torch.isnan(x)
                bounds = observed_bounds(x, miss)
            out[kind] = (fam.check(x, miss, where, bounds), miss)
        return out

    def _encode(self, y, where: str, n: int | None = None) -> Tensor:
        """Class labels -> indices into classes_ (B,), with clear errors on unknown labels."""
        y = np.asarray(y.detach().cpu().numpy() if isinstance(y, Tensor) else y)
        if y.ndim != 1 or (n is not None and y.shape[0] != n):
            want = f"({n},)" if n is not None else "(n_samples,)"
            raise ValueError(f"y in {where} must have shape {want}; got {y.shape}")
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError(f"y in {where} contains NaN; class labels must be observed")
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if unknown.any():
            raise ValueError(
                f"unknown class label(s) {np.unique(y[unknown])[:5].tolist()} in y of {where}; "
                f"classes_ are {self.classes_.tolist()}"
            )
        return torch.as_tensor(idx, dtype=torch.long, device=self._device())

    def _weights(self, sample_weight, n: int) -> Tensor | None:
        """sample_weight as a (n,) tensor; None when every weight is 1 (the unweighted path)."""
        if sample_weight is None:
            return None
        w = torch.as_tensor(
            np.asarray(sample_weight, dtype=np.float64)
            if not isinstance(sample_weight, Tensor)
            else sample_weight
        )
        w = w.to(device=self._device(), dtype=self.dtype)
        if w.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},); got {tuple(w.shape)}")
        if not torch.isfinite(w).all() or (w < 0).any():
            raise ValueError("sample_weight must be finite and >= 0")
        return None if bool((w == 1).all()) else w

    def _resolve_features(self, X_raw, D: int) -> dict[str, list[int]]:
        kinds = _per_column(self.features, X_raw, D, "features", str, "family", "families")
        for j, k in enumerate(kinds):
            check_option(f"features[{j}]", k, FAMILIES)
        return {k: [j for j in range(D) if kinds[j] == k] for k in FAMILIES if k in kinds}

    def _resolve_alpha(self, X_raw, D: int) -> Tensor | float:
        """alpha as a float, or one value per column of X (D,)."""
        if not isinstance(self.alpha, Sequence | Mapping | np.ndarray | Tensor):
            return self.alpha
        spec = self.alpha.tolist() if isinstance(self.alpha, np.ndarray | Tensor) else self.alpha
        alphas = _per_column(spec, X_raw, D, "alpha", int | float, "value", "values")
        for j, a in enumerate(alphas):
            _check_nonneg(a, f"alpha[{j}]")
        return torch.tensor(alphas, dtype=self.dtype)

    def _init(self, X_raw, X: Tensor, classes) -> None:
        classes = np.asarray(
            classes.detach().cpu().numpy() if isinstance(classes, Tensor) else classes
        )
        if classes.ndim != 1 or classes.size == 0:
            raise ValueError(f"classes must be a non-empty 1-D array; got {classes!r}")
        if classes.dtype.kind == "f" and np.isnan(classes).any():
            raise ValueError("y contains NaN; class labels must be observed")
        self.classes_ = np.unique(classes)
        C, D = len(self.classes_), X.shape[1]
        self.n_features_in_ = D
        dev = X.device
        self.families_ = nn.ModuleDict()
        alpha = self._resolve_alpha(X_raw, D)
        for kind, cols in self._resolve_features(X_raw, D).items():
            a = alpha if isinstance(alpha, float) else alpha[cols].to(dev)  # (D_f,)
            self.families_[kind] = make_features(kind, cols, C, self, a, dev)
        self.register_buffer("class_count_", torch.zeros(C, dtype=self.dtype, device=dev))
        self.register_buffer("class_log_prior_", torch.zeros(C, dtype=self.dtype, device=dev))

    # ------------------------------------------------------------------ learning
    def fit(self, X, y, sample_weight=None) -> NaiveBayes:
        """MLE/MAP of p(y) and every p(x_d | y) from (X, y); returns self."""
        X_raw = X
        X = self._X_unfitted(X)
        yy = np.asarray(y.detach().cpu().numpy() if isinstance(y, Tensor) else y)
        if yy.ndim != 1 or yy.shape[0] != X.shape[0]:
            raise ValueError(f"y must have shape ({X.shape[0]},) to match X; got {yy.shape}")
        if yy.dtype.kind == "f" and np.isnan(yy).any():
            raise ValueError("y in fit contains NaN; class labels must be observed")
        for name in ("classes_", "n_features_in_"):
            self.__dict__.pop(name, None)
        self._init(X_raw, X, yy)
        self.summarize(X, yy, sample_weight)
        self.from_summaries()
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None) -> NaiveBayes:
        """Add a batch to the statistics and refit; ``classes`` is required on the first call."""
        X_raw = X
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit")
            X = self._X_unfitted(X)
            self._init(X_raw, X, classes)
        self.summarize(X, y, sample_weight)
        self.from_summaries()
        return self

    def _X_unfitted(self, X) -> Tensor:
        """X for a fresh fit: any number of features; on ``device``, else where X lives."""
        saved = self.__dict__.pop("n_features_in_", None)
        try:
            X = self._X(X, "fit")
            return X if self.device is None else X.to(self.device)
        finally:
            if saved is not None:
                self.n_features_in_ = saved

    @torch.no_grad()
    def summarize(self, X, y, sample_weight=None) -> None:
        """Accumulate the sufficient statistics of a batch (no parameter changes)."""
        self._check_fitted()
        X = self._X(X, "fit")
        yi = self._encode(y, "fit", X.shape[0])
        w = self._weights(sample_weight, X.shape[0])  # (B,) or None: all 1
        self.class_count_ += class_weight(yi, w, len(self.classes_), self.class_count_.dtype)
        for kind, (x, miss) in self._blocks(X, "fit").items():
            self.families_[kind].summarize(x, miss, yi, w, self.chunk_bytes)

    @torch.no_grad()
    def from_summaries(self) -> None:
        """Set p(y) and every p(x_d | y) from the accumulated statistics."""
        self._check_fitted()
        C = len(self.classes_)
        if self.class_prior is not None:
            prior = torch.as_tensor(np.asarray(self.class_prior, dtype=np.float64))
            if prior.shape != (C,):
                raise ValueError(
                    f"class_prior must have one probability per class ({C}); got shape "
                    f"{tuple(prior.shape)}"
                )
            if (prior < 0).any() or abs(float(prior.sum()) - 1) > 1e-8:
                raise ValueError(f"class_prior must be >= 0 and sum to 1; got {prior.tolist()}")
            lp = torch.log(prior)
        elif self.fit_prior:
            lp = torch.log(self.class_count_) - torch.log(self.class_count_.sum())
        else:
            lp = torch.full((C,), -float(np.log(C)), dtype=torch.float64)
        self.class_log_prior_ = lp.to(self.class_count_)
        for fam in self.families_.values():
            fam.from_summaries()

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict_joint_log_proba(self, X) -> Tensor:
        """log p(x, y=c) for every class: (B, C). Missing (NaN) features are marginalized."""
        return self._jll(X, constant=True)

    @torch.no_grad()
    def _jll(self, X, constant: bool) -> Tensor:
        """log p(y) + Σ families; with constant=False, terms that do not depend on y (the
        multinomial coefficient) are left out: enough for posteriors and predictions."""
        self._check_fitted()
        X = self._X(X, "predict")
        jll = self.class_log_prior_.expand(X.shape[0], -1).clone()  # (B, C)
        for kind, (x, miss) in self._blocks(X, "predict").items():
            jll += self.families_[kind].log_likelihood(x, miss, constant, self.chunk_bytes)
        return jll

    def predict_log_proba(self, X) -> Tensor:
        """log p(y=c | x) = log p(x, c) - logsumexp_c' log p(x, c'), by Bayes' rule: (B, C)."""
        jll = self._jll(X, constant=False)
        return jll.sub_(torch.logsumexp(jll, 1, keepdim=True))

    def predict_proba(self, X) -> Tensor:
        return self.predict_log_proba(X).exp_()

    def predict(self, X):
        """argmax_c p(y=c | x): a tensor for numeric labels, else a numpy array of labels."""
        idx = self._jll(X, constant=False).argmax(1)
        return self._decode(idx)

    def _decode(self, idx: Tensor):
        if self.classes_.dtype.kind in "biuf":
            return torch.as_tensor(self.classes_, device=idx.device)[idx]
        return self.classes_[idx.cpu().numpy()]

    def score(self, X, y) -> float:
        """Mean accuracy, scikit-learn's classifier score."""
        yi = self._encode(y, "score")
        return float((self._jll(X, constant=False).argmax(1) == yi).to(self.dtype).mean())

    def log_prob(self, X, y=None) -> Tensor:
        """log p(x, y) when y is given, else the marginal log p(x) = logsumexp_c log p(x, c)."""
        jll = self.predict_joint_log_proba(X)
        if y is None:
            return torch.logsumexp(jll, 1)
        yi = self._encode(y, "log_prob", jll.shape[0])
        return jll.gather(1, yi[:, None]).squeeze(1)

    # ------------------------------------------------------------------ generation
    def sample(
        self,
        n: int,
        *,
        y=None,
        generator: torch.Generator | None = None,
        total_count: int | None = None,
    ) -> Tensor:
        """n draws of x (n, D) (:meth:`sample_joint` without the labels)."""
        return self.sample_joint(n, y=y, generator=generator, total_count=total_count)[0]

    @torch.no_grad()
    def sample_joint(
        self,
        n: int,
        *,
        y=None,
        generator: torch.Generator | None = None,
        total_count: int | None = None,
    ) -> tuple[Tensor, Any]:
        """Ancestral sampling: y ~ p(y) (or the given label(s)), then x_d ~ p(x_d | y).

        Returns (X (n, D), labels). ``total_count`` is the number of counts drawn per row for
        multinomial features (default: the training mean, rounded).
        """
        self._check_fitted()
        n = check_int("n", n, low=0)
        dev = self._device()
        with forked_rng(generator, dev):
            if y is None:
                yi = Categorical(logits=self.class_log_prior_).sample((n,))  # (n,)
            else:
                labels = np.asarray(y.detach().cpu().numpy() if isinstance(y, Tensor) else y)
                labels = np.full(n, labels) if labels.ndim == 0 else labels
                yi = self._encode(labels, "sample", n).to(dev)
            X = torch.empty(n, self.n_features_in_, dtype=self._dtype(), device=dev)
            for fam in self.families_.values():
                X[:, fam.columns] = fam.sample(yi, total_count=total_count)
        return X, self._decode(yi)

    # ------------------------------------------------------------------ sklearn-like views
    def _family_attr(self, name: str, kinds: tuple[str, ...]):
        self._check_fitted()
        owners = [k for k in kinds if k in self.families_]
        if len(owners) != 1:
            raise AttributeError(
                f"{name} belongs to one family ({'/'.join(kinds)}); this model has "
                f"{list(self.families_)}; read families_[kind].{name}"
            )
        return getattr(self.families_[owners[0]], name)

    @property
    def class_prior_(self) -> Tensor:
        return self.class_log_prior_.exp()

    def __getattr__(self, name: str):
        # scikit-learn's per-family names (theta_, feature_log_prob_, ...) read through to the
        # one family that owns them; nn.Module's lookup of parameters/buffers/modules first
        if name in FAMILY_ATTRS:
            return self._family_attr(name, FAMILY_ATTRS[name])
        return super().__getattr__(name)

    def extra_repr(self) -> str:
        f = self.features if isinstance(self.features, str) else "mixed"
        return f"features={f!r}, alpha={self.alpha}, var_smoothing={self.var_smoothing}"


def _per_column(spec, X_raw, D: int, name: str, scalar: type, noun: str, nouns: str) -> list:
    """One value per column of X from a scalar, a sequence of D values, or a dict {column:
    value} (columns by index, or by name for a DataFrame) that covers every column."""
    if isinstance(spec, scalar) and not isinstance(spec, bool):
        return [spec] * D
    if isinstance(spec, Mapping):
        names = list(X_raw.columns) if hasattr(X_raw, "columns") else None
        values: list = [None] * D
        for key, value in spec.items():
            if names is not None and key in names:
                j = names.index(key)
            elif isinstance(key, int | np.integer) and 0 <= key < D:
                j = int(key)
            else:
                raise ValueError(f"{name} has key {key!r}, which is not a column of X")
            values[j] = value
        missing = [j for j, v in enumerate(values) if v is None]
        if missing:
            raise ValueError(
                f"{name} must give a {noun} for every column; columns {missing[:10]} have none"
            )
        return values
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        if len(spec) != D:
            raise ValueError(f"{name} lists {len(spec)} {nouns} but X has {D} columns")
        return list(spec)
    raise TypeError(f"{name} must be a {noun}, a list or a dict of them; got {spec!r}")


def _check_nonneg(v, name: str) -> None:
    """A smoothing parameter: a finite float >= 0 (in NaiveBayes's own "; got" wording)."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite float >= 0; got {v!r}")
