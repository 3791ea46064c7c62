"""The neural example of §2.4.4: a two-component Gaussian mixture whose class prior is a
sigmoid-parameterized root factor, fitted by SGD on the mean negative log-likelihood.

    z ~ Bernoulli(r),  r = sigmoid(logit)          (a root NeuralBernoulli: one free logit)
    x | z ~ N(μ_z, σ_z²),  (μ_0, σ_0) = (−1, 1),  (μ_1, σ_1) = (3, 2)    (a Gaussian table)

Only r is learned; the components are known (their parameters are buffers, not trained). With
z latent the objective is the marginal likelihood p(x) = (1 − r) N(x; μ_0, σ_0²) + r N(x; μ_1, σ_1²)
averaged over the data (its scale does not depend on |D|, so neither does the learning rate).

The exact MLE of r has no closed form for n > 1 samples, but the score
S(r) = Σ_b (p_1(x_b) − p_0(x_b)) / p(x_b) is strictly decreasing in r, so bisection finds it;
its standard error is 1 / √I(r̂) with the observed information I(r) = Σ_b ((p_1 − p_0) / p)².
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..factors import Gaussian, NeuralBernoulli
from ..network import BayesNet
from ..variables import Continuous, Discrete
from .fit import fit_network

__all__ = [
    "TRUE_R",
    "COMPONENTS",
    "SWEEP_LEARNING_RATES",
    "MLE",
    "mixture_network",
    "sample_mixture",
    "mixture_nll",
    "exact_mle",
    "fit_prior",
    "learning_rate_sweep",
]

TRUE_R = 0.8
COMPONENTS: tuple[tuple[float, float], tuple[float, float]] = ((-1.0, 1.0), (3.0, 2.0))
#: the learning rates of figure 18
SWEEP_LEARNING_RATES = (0.1, 1.0, 10.0, 20.0, 30.0)


@dataclass(frozen=True)
class MLE:
    """The maximum-likelihood r̂, its standard error 1/√I(r̂), and the mean NLL at r̂."""

    r: float
    stderr: float
    nll: float


def _check_components(components) -> tuple[tuple[float, float], tuple[float, float]]:
    comps = tuple(tuple(float(v) for v in c) for c in components)
    if len(comps) != 2 or any(len(c) != 2 for c in comps):
        raise ValueError(f"components must be two (mean, std) pairs, got {components!r}")
    if any(c[1] <= 0 for c in comps):
        raise ValueError(f"component standard deviations must be > 0, got {components!r}")
    return comps  # type: ignore[return-value]


def mixture_network(
    r: float = TRUE_R,
    components: Sequence[tuple[float, float]] = COMPONENTS,
    *,
    logit: float | None = None,
) -> BayesNet:
    """The BayesNet z → x: a root ``NeuralBernoulli`` prior with logit log(r/(1−r)) (or the
    given ``logit``) and a ``Gaussian`` x | z with the two known components."""
    (m0, s0), (m1, s1) = _check_components(components)
    if logit is None:
        if not 0 < r < 1:
            raise ValueError(f"r must be in (0, 1), got {r!r}")
        logit = math.log(r / (1 - r))
    z, x = Discrete("z", 2), Continuous("x")
    prior = NeuralBernoulli(z).double()  # float64, like the Gaussian table
    with torch.no_grad():
        prior.raw.fill_(float(logit))
    likelihood = Gaussian(x, [z], mean=[m0, m1], std=[s0, s1])  # mean[z], std[z]
    return BayesNet([prior, likelihood], name="mixture")


def sample_mixture(
    n: int = 1000,
    r: float = TRUE_R,
    components: Sequence[tuple[float, float]] = COMPONENTS,
    *,
    seed: int | None = 0,
    return_z: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """``n`` samples x (n,) by ancestral sampling (z first, then x | z)."""
    draw = mixture_network(r, components).sample(n, seed=seed)
    return (draw["x"], draw["z"]) if return_z else draw["x"]


def _densities(x: Tensor, components) -> tuple[Tensor, Tensor]:
    (m0, s0), (m1, s1) = _check_components(components)
    x = torch.as_tensor(x, dtype=torch.float64).reshape(-1)
    loc = torch.tensor([m0, m1], dtype=torch.float64)
    scale = torch.tensor([s0, s1], dtype=torch.float64)
    dens = torch.distributions.Normal(loc, scale).log_prob(x[:, None]).exp()  # (B, 2)
    return dens[:, 0], dens[:, 1]


def mixture_nll(
    x: Tensor, r: float, components: Sequence[tuple[float, float]] = COMPONENTS
) -> float:
    """−(1/n) Σ_b log p(x_b) at the class prior r."""
    p0, p1 = _densities(x, components)
    return float(-((1 - r) * p0 + r * p1).log().mean())


def exact_mle(
    x: Tensor, components: Sequence[tuple[float, float]] = COMPONENTS, *, tol: float = 1e-13
) -> MLE:
    """The MLE of r by bisection on the (strictly decreasing) score, with its standard error."""
    p0, p1 = _densities(x, components)
    d = p1 - p0  # (B,)

    def score(r: float) -> float:
        return float((d / ((1 - r) * p0 + r * p1)).sum())

    if score(0.0) <= 0:
        r = 0.0
    elif score(1.0) >= 0:
        r = 1.0
    else:
        lo, hi = 0.0, 1.0
        while hi - lo > tol:  # loop over bisection steps; each evaluates all samples at once
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if score(mid) > 0 else (lo, mid)
        r = 0.5 * (lo + hi)
    info = float(((d / ((1 - r) * p0 + r * p1)) ** 2).sum())
    return MLE(r, 1.0 / math.sqrt(info), mixture_nll(x, r, components))


def fit_prior(
    x: Tensor,
    *,
    lr: float = 1.0,
    epochs: int = 500,
    init_logit: float = 0.5,
    components: Sequence[tuple[float, float]] = COMPONENTS,
    optimizer: str = "sgd",
    verbose: bool | None = False,
) -> tuple[BayesNet, dict[str, list[float]]]:
    """Learn r = sigmoid(logit) by full-batch gradient descent on the mean NLL of x, z latent.

    Returns the fitted network and its history: ``loss`` and ``r`` at the same parameters,
    entry i after i steps (epochs + 1 entries, the start included), so the two panels of figure
    18 and any (loss, r) pair read together.
    """
    net = mixture_network(components=components, logit=init_logit)
    raw = net["z"].raw
    r0 = float(torch.sigmoid(raw[0]))

    fit_network(
        net,
        {"x": torch.as_tensor(x, dtype=torch.float64)},
        nodes=["z"],
        method="gradient",
        optimizer=optimizer,
        lr=lr,
        epochs=epochs,
        batch_size=None,
        verbose=verbose,
        track={"r": lambda: float(torch.sigmoid(raw[0]))},
    )
    trained = net.fit_report_.histories["network"]
    # the trainer logs the loss before each step and tracked values after it: realign both on
    # the parameters after i steps, i = 0..epochs
    history = dict(trained)
    history["r"] = [r0, *trained["r"]]
    history["loss"] = [*trained["loss"], mixture_nll(x, history["r"][-1], components)]
    return net, history


def learning_rate_sweep(
    x: Tensor,
    learning_rates: Sequence[float] = SWEEP_LEARNING_RATES,
    *,
    epochs: int = 100,
    init_logit: float = 0.1,
    components: Sequence[tuple[float, float]] = COMPONENTS,
) -> dict[float, dict[str, list[float]]]:
    """Figure 18's runs: one :func:`fit_prior` history per learning rate."""
    return {
        float(lr): fit_prior(x, lr=lr, epochs=epochs, init_logit=init_logit, components=components)[
            1
        ]
        for lr in learning_rates
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the example: print the SGD estimate of r beside the exact MLE; with ``--figure``
    draw figure 18 there."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="samples (1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the sample (0)")
    parser.add_argument("--figure", metavar="PNG", help="draw figure 18 (the lr sweep) here")
    args = parser.parse_args(argv)
    x = sample_mixture(args.n, seed=args.seed)
    _, history = fit_prior(x)
    mle = exact_mle(x)
    print(f"Estimate: {history['r'][-1]:.4f}  True value: {TRUE_R}")
    print(f"Exact MLE: {mle.r:.4f} ± {mle.stderr:.4f}")
    if args.figure:
        from ..plot.learning import plot_learning_rate_sweep

        sweep = learning_rate_sweep(x)
        plot_learning_rate_sweep(
            sweep, true_nll=mixture_nll(x, TRUE_R), true_value=TRUE_R, path=args.figure
        )
        print(f"wrote {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
