"""The one deterministic, full-batch fit: L-BFGS with a strong-Wolfe line search.

Minibatch gradient training goes through :func:`~bayesgen.train.train`; a smooth loss that is
cheap to evaluate exactly on all the data (the n-gram discounts on held-out text, the spelling
model's weights, a Gaussian fitted to a target by quadrature) converges in tens of iterations by
a quasi-Newton method instead, x_{k+1} = x_k − α_k H_k ∇f(x_k) with H_k the limited-memory
inverse-Hessian estimate and α_k satisfying the strong Wolfe conditions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor

from .._checks import check_int, check_real

__all__ = ["minimize"]


def minimize(
    loss_fn: Callable[[], Tensor],
    params: Iterable[Tensor],
    *,
    max_iter: int = 100,
    history_size: int = 100,
    tolerance_grad: float = 1e-7,
    tolerance_change: float = 1e-9,
) -> None:
    """Minimize the scalar ``loss_fn()`` over ``params`` (tensors that require grad) in place.
    Stops after ``max_iter`` iterations, when the largest
    gradient entry is below ``tolerance_grad`` or when the loss or step changes by less than
    ``tolerance_change``."""
    check_int("max_iter", max_iter, low=1)
    check_int("history_size", history_size, low=1)
    check_real("tolerance_grad", tolerance_grad, low=0.0)
    check_real("tolerance_change", tolerance_change, low=0.0)
    params = list(params)
    opt = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=max_iter,
        history_size=history_size,
        line_search_fn="strong_wolfe",
        tolerance_grad=tolerance_grad,
        tolerance_change=tolerance_change,
    )

    def closure() -> Tensor:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    opt.step(closure)
