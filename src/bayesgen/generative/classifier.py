"""A generative model is also a classifier (§2.2.3.1): Bayes' rule over the classes of any
conditional paradigm with an exact log-likelihood or a bound on it,

    p(y = c | x) = p(x | y = c) p(y = c) / Σ_c' p(x | y = c') p(y = c').

With a bound (a VAE's ELBO or IWAE estimate) in place of log p(x | c), the posterior is the
classifier of that bound; the tighter the bound, the closer to the model's own Bayes rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .._checks import check_int
from .base import GenerativeModel

__all__ = ["GenerativeClassifier"]


class GenerativeClassifier:
    """Classify with a model of p(x | y) trained on labels (``num_classes`` set).

    Parameters
    ----------
    model: a conditional :class:`GenerativeModel`.
    score: how log p(x | y) is computed: None for ``log_prob`` where exact, else a bound's name
        ('elbo', 'iwae', ...) or a callable ``score(x, y) -> (B,)``.
    class_prior: p(y) (C,), default uniform; ``fit_prior(y)`` sets it from label counts.
    batch_size: rows scored at once (each is scored under every class in one call).
    """

    def __init__(
        self,
        model: GenerativeModel,
        score: str | Callable[[Tensor, Tensor], Tensor] | None = None,
        class_prior: Sequence[float] | Tensor | None = None,
        batch_size: int = 256,
        **score_kwargs,
    ):
        if not isinstance(model, GenerativeModel) or not model.num_classes:
            raise ValueError("model must be a generative model conditioned on class labels")
        C = model.num_classes
        if score is None:
            if not model.exact_likelihood:
                raise ValueError(
                    f"{type(model).__name__} has no exact log-likelihood; give score= one of "
                    f"its bounds {list(model.bounds)}"
                )
            score = model.log_prob
        elif isinstance(score, str):
            if score not in model.bounds and score != "log_prob":
                raise ValueError(
                    f"score must be 'log_prob' or one of {list(model.bounds)}, got {score!r}"
                )
            method = getattr(model, score)
            score = (lambda x, y: method(x, y, **score_kwargs)) if score_kwargs else method
        elif not callable(score):
            raise TypeError(f"score must be None, a bound's name or a callable, got {score!r}")
        prior = torch.full((C,), 1.0 / C) if class_prior is None else torch.as_tensor(class_prior)
        if (
            prior.shape != (C,)
            or (prior < 0).any()
            or not torch.isclose(prior.sum(), torch.ones(()))
        ):
            raise ValueError(f"class_prior must be {C} probabilities summing to 1, got {prior}")
        batch_size = check_int("batch_size", batch_size, low=1)
        self.model, self.score, self.batch_size = model, score, batch_size
        self.class_log_prior_ = prior.double().log()

    def fit_prior(self, y: Tensor) -> GenerativeClassifier:
        """p(y) from the label frequencies of ``y``."""
        counts = torch.bincount(torch.as_tensor(y).long(), minlength=self.model.num_classes)
        self.class_log_prior_ = (counts.double() / counts.sum()).log()
        return self

    @torch.no_grad()
    def joint_log_proba(self, x: Tensor) -> Tensor:
        """log p(x, y = c) for every class: (B, C), every class scored in one batched call."""
        C = self.model.num_classes
        out = []
        for i in range(0, len(x), self.batch_size):  # chunks of rows
            xb = x[i : i + self.batch_size]
            B = len(xb)
            xs = xb.repeat_interleave(C, 0)  # (B C, *event): row b under class c at b C + c
            ys = torch.arange(C, device=xs.device).repeat(B)  # (B C,)
            lp = self.score(xs, ys).double().reshape(B, C)
            out.append(lp + self.class_log_prior_.to(lp.device))
        return torch.cat(out)

    def predict_log_proba(self, x: Tensor) -> Tensor:
        """log p(y = c | x), (B, C)."""
        joint = self.joint_log_proba(x)
        return joint - joint.logsumexp(1, keepdim=True)

    def predict_proba(self, x: Tensor) -> Tensor:
        return self.predict_log_proba(x).exp()

    def predict(self, x: Tensor) -> Tensor:
        """argmax_c p(y = c | x), (B,)."""
        return self.joint_log_proba(x).argmax(1)

    def score_accuracy(self, x: Tensor, y: Tensor) -> float:
        """The fraction of rows whose predicted class is y."""
        return float((self.predict(x).cpu() == torch.as_tensor(y).cpu()).double().mean())
