"""Energy-based and score-based models (§2.2.2): p(x) ∝ exp(−E(x)), not Bayesian networks.

An energy model defines an unnormalized density over all coordinates of x at once; its graph is
the complete undirected graph over them (the Markov random field of §2.1), not a DAG, so there
is no ancestral sampling: samples come from Langevin dynamics driven by the score
∇_x log p(x) = −∇_x E(x), which needs no normalizing constant.

The network is noise-conditional (Song & Ermon, 2019): with ``parameterization="energy"`` it
computes E_θ(x, σ) = h(x, log σ)/σ and the score −∇_x E_θ; with ``"score"`` it computes
s_θ(x, σ) = h(x, log σ)/σ directly. Noise levels σ_1 > … > σ_L are geometric (a buffer).

Objectives (``objective``):

* ``"dsm"``, denoising score matching at every level: with x̃ = x + σ ε,
  ½ E_{σ, ε} ||σ s_θ(x̃, σ) + ε||² (the σ²-weighted Fisher divergence to the noised data);
* ``"cd"``, contrastive divergence (energy only): E_θ(x⁺) − E_θ(x⁻) + α (E_θ(x⁺)² + E_θ(x⁻)²),
  x⁻ from a short-run Langevin chain started at N(0, σ_1² I), at the level σ_L; the same
  short-run chain samples the trained model.

Samplers: Langevin x ← x + (η/2) s(x) + √η ξ, and annealed Langevin (one run per level, step
sizes η_i = η σ_i²/σ_L²).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from .._checks import check_int
from ..network import BayesNet
from ..nn import MLP
from .base import GenerativeModel

__all__ = [
    "EnergyModel",
    "langevin",
    "annealed_langevin",
    "geometric_sigmas",
    "gaussian_mixture_score",
]

Score = Callable[[Tensor], Tensor]


def geometric_sigmas(sigma_max: float, sigma_min: float, levels: int) -> Tensor:
    """σ_1 = sigma_max > … > σ_L = sigma_min, evenly spaced in log (float64, (L,))."""
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"sigma_min must be in (0, sigma_max={sigma_max}), got {sigma_min!r}")
    levels = check_int("levels", levels, low=2)
    return torch.logspace(math.log10(sigma_max), math.log10(sigma_min), levels, dtype=torch.float64)


def langevin(
    score: Score,
    x: Tensor,
    *,
    step_size: float,
    steps: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Unadjusted Langevin dynamics: x ← x + (η/2) s(x) + √η ξ, ξ ~ N(0, I), ``steps`` times."""
    if step_size <= 0:
        raise ValueError(f"step_size must be > 0, got {step_size!r}")
    steps = check_int("steps", steps, low=0)
    for _ in range(steps):  # chain steps, not rows
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        x = x + 0.5 * step_size * score(x) + math.sqrt(step_size) * noise
    return x


def annealed_langevin(
    score: Callable[[Tensor, float], Tensor],
    x: Tensor,
    sigmas: Sequence[float] | Tensor,
    *,
    step_size: float,
    steps: int,
    generator: torch.Generator | None = None,
    denoise: bool = False,
) -> Tensor:
    """Annealed Langevin dynamics (Song & Ermon, 2019): for σ_1 > … > σ_L, ``steps`` Langevin
    steps with the score s(x, σ_i) and step η σ_i²/σ_L². ``denoise`` ends with Tweedie's
    x + σ_L² s(x, σ_L)."""
    sigmas = [float(s) for s in sigmas]
    last = sigmas[-1]
    for sigma in sigmas:  # noise levels, not rows
        eta = step_size * sigma**2 / last**2
        x = langevin(
            lambda v, s=sigma: score(v, s), x, step_size=eta, steps=steps, generator=generator
        )
    if denoise:
        x = x + last**2 * score(x, last)
    return x


def gaussian_mixture_score(
    x: Tensor, means: Tensor, weights: Tensor, variance: float = 1.0
) -> Tensor:
    """The exact score of Σ_k w_k N(μ_k, v I) (Song & Ermon's toy is the two-mode case):

        ∇_x log p(x) = Σ_k r_k(x) (μ_k − x) / v,   r(x) = softmax_k(log w_k − |x − μ_k|² / 2v)

    x (B, D), means (K, D), weights (K,) summing to 1; noising the data by σ adds σ² to v."""
    if not variance > 0:
        raise ValueError(f"variance must be > 0, got {variance!r}")
    diff = means - x[:, None]  # (B, K, D)
    logits = weights.log() - diff.square().sum(-1) / (2 * variance)  # (B, K)
    r = torch.softmax(logits, -1)  # (B, K)
    return (r[..., None] * diff).sum(1) / variance  # (B, D)


class EnergyModel(GenerativeModel, paradigm="energy"):
    """An energy (or score) model of x with ``event_shape``, trained by ``objective``.

    Parameters
    ----------
    objective: ``"dsm"`` (denoising score matching) or ``"cd"`` (contrastive divergence).
    parameterization: ``"energy"`` (E_θ, score by autograd) or ``"score"`` (s_θ; dsm only).
    sigma_max, sigma_min, levels: the geometric noise levels.
    hidden: the network's hidden sizes (SiLU, smooth for the energy's gradient).
    step_size, steps: the sampler's η (at σ_L) and steps per level (or in all, for plain
        Langevin); ``cd_steps``, ``cd_step_size``: the short-run chains of contrastive divergence;
        ``cd_alpha``: the energy-magnitude penalty α.
    """

    def __init__(
        self,
        event_shape: tuple[int, ...] | int,
        *,
        num_classes: int | None = None,
        context_size: int | None = None,
        objective: str = "dsm",
        parameterization: str = "energy",
        sigma_max: float = 1.0,
        sigma_min: float = 0.01,
        levels: int = 10,
        hidden: Sequence[int] = (128, 128),
        step_size: float = 2e-5,
        steps: int = 100,
        cd_steps: int = 20,
        cd_step_size: float = 1e-2,
        cd_alpha: float = 0.01,
    ):
        super().__init__(event_shape, num_classes=num_classes, context_size=context_size)
        if parameterization not in ("energy", "score"):
            raise ValueError(
                f"parameterization must be 'energy' or 'score', got {parameterization!r}"
            )
        if objective == "cd" and parameterization != "energy":
            raise ValueError(
                "objective 'cd' needs parameterization='energy' (it compares energies), got "
                f"{parameterization!r}"
            )
        elif objective not in ("dsm", "cd"):
            raise ValueError(f"objective must be 'dsm' or 'cd', got {objective!r}")
        for name, value in (("step_size", step_size), ("cd_step_size", cd_step_size)):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        steps, cd_steps = check_int("steps", steps, low=1), check_int("cd_steps", cd_steps, low=1)
        if not isinstance(cd_alpha, (int, float)) or cd_alpha < 0:
            raise ValueError(f"cd_alpha must be a float >= 0, got {cd_alpha!r}")
        self.objective, self.parameterization = objective, parameterization
        self.sigma_max, self.sigma_min, self.levels = float(sigma_max), float(sigma_min), levels
        self.hidden = tuple(hidden)
        self.step_size, self.steps = float(step_size), steps
        self.cd_steps, self.cd_step_size, self.cd_alpha = cd_steps, float(cd_step_size), cd_alpha
        self.features = math.prod(self.event_shape)
        sig = geometric_sigmas(sigma_max, sigma_min, levels)
        self.register_buffer("sigmas", sig.to(torch.get_default_dtype()))  # (L,)
        n_out = 1 if parameterization == "energy" else self.features
        self.net = MLP(
            self.features + 1,
            n_out,
            self.hidden,
            activation=nn.SiLU,
            context_size=self.context_features,
        )
        if parameterization == "energy" and objective == "dsm":
            # the score −∇E cannot see E's additive constant: the output bias is fixed at 0
            last = self.net.linears[-1]
            nn.init.zeros_(last.bias)
            last.bias.requires_grad_(False)

    # ------------------------------------------------------------------ energy and score
    def _h(self, x: Tensor, sigma: Tensor, context: Tensor | None) -> Tensor:
        log_sigma = sigma.log().to(x.dtype).expand(len(x)).unsqueeze(-1)  # (B, 1)
        return self.net(torch.cat([x, log_sigma], dim=-1), context)

    def energy(self, x: Tensor, sigma: Tensor | float | None = None, y: Tensor | None = None):
        """E_θ(x, σ) = h(x, log σ)/σ per row, (B,) (σ defaults to σ_L); unnormalized:
        p_σ(x) ∝ exp(−E_θ(x, σ))."""
        if self.parameterization != "energy":
            raise TypeError("a score-parameterized EnergyModel has no energy; use score()")
        x = self.check_x(x)
        sigma = self._sigma(sigma)
        return self._energy(x.reshape(len(x), -1), sigma, self.context(y, len(x)))

    def _energy(self, x: Tensor, sigma: Tensor, context: Tensor | None) -> Tensor:
        return self._h(x, sigma, context).squeeze(-1) / sigma  # (B,)

    def _sigma(self, sigma: Tensor | float | None) -> Tensor:
        if sigma is None:
            return self.sigmas[-1]
        return torch.as_tensor(sigma, dtype=self.sigmas.dtype, device=self.sigmas.device)

    def _score(
        self, x: Tensor, sigma: Tensor, context: Tensor | None, create_graph: bool = False
    ) -> Tensor:
        """s_θ(x, σ) for flat x (B, D), σ a scalar or (B, 1)."""
        if self.parameterization == "score":
            return self._h(x, sigma.squeeze(-1) if sigma.dim() else sigma, context) / sigma
        with torch.enable_grad():
            xg = x if x.requires_grad else x.detach().requires_grad_(True)
            s = sigma.squeeze(-1) if sigma.dim() else sigma
            e = self._h(xg, s, context).squeeze(-1) / s
            (grad,) = torch.autograd.grad(e.sum(), xg, create_graph=create_graph)
        return -grad  # (B, D)

    def score(self, x: Tensor, sigma: Tensor | float | None = None, y: Tensor | None = None):
        """The score ∇_x log p_σ(x), (B, *event_shape) (σ defaults to σ_L)."""
        x = self.check_x(x)
        flat = x.reshape(len(x), -1)
        s = self._score(flat, self._sigma(sigma), self.context(y, len(x)))
        return s.reshape(x.shape)

    # ------------------------------------------------------------------ objectives
    def loss(self, x: Tensor, y: Tensor | None = None, *, group: str | None = None) -> Tensor:
        x = self.check_x(x)
        flat = x.reshape(len(x), -1)  # (B, D)
        c = self.context(y, len(x))
        if self.objective == "dsm":
            return self._dsm(flat, c)
        elif self.objective == "cd":
            return self._cd(flat, c)
        else:
            raise ValueError(f"objective must be 'dsm' or 'cd', got {self.objective!r}")

    def _dsm(self, x: Tensor, c: Tensor | None) -> Tensor:
        """½ E ||σ s_θ(x + σε, σ) + ε||², one level per row."""
        idx = torch.randint(0, self.levels, (len(x),), device=x.device)
        sigma = self.sigmas[idx].unsqueeze(-1).to(x.dtype)  # (B, 1)
        eps = torch.randn_like(x)
        xt = x + sigma * eps
        if self.parameterization == "energy":
            with torch.enable_grad():  # the score is a gradient, also in held-out metrics
                xt = xt.detach().requires_grad_(True)
                e = self._h(xt, sigma.squeeze(-1), c).squeeze(-1) / sigma.squeeze(-1)
                (grad,) = torch.autograd.grad(e.sum(), xt, create_graph=True)
            s = -grad
        else:
            s = self._h(xt, sigma.squeeze(-1), c) / sigma
        return 0.5 * (sigma * s + eps).pow(2).sum(-1).mean()

    def _cd(self, x: Tensor, c: Tensor | None) -> Tensor:
        """E(x⁺) − E(x⁻) + α(E(x⁺)² + E(x⁻)²) at σ_L; x⁻ from the short-run Langevin chain
        that also samples the model (Nijkamp et al., 2019): ``cd_steps`` steps of size
        ``cd_step_size`` from N(0, σ_1² I), no gradient through the chain."""
        sigma = self.sigmas[-1]
        start = self.sigmas[0] * torch.randn_like(x)
        neg = langevin(
            lambda v: self._score(v, sigma, c),
            start,
            step_size=self.cd_step_size,
            steps=self.cd_steps,
        ).detach()
        e_pos, e_neg = self._energy(x, sigma, c), self._energy(neg, sigma, c)
        return (e_pos - e_neg).mean() + self.cd_alpha * (e_pos.pow(2) + e_neg.pow(2)).mean()

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(
        self,
        n: int,
        y: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        step_size: float | None = None,
        init: Tensor | None = None,
        denoise: bool = False,
    ) -> Tensor:
        """n draws by ``sampler`` 'annealed' (the default for dsm) or 'langevin' (the default
        for cd, at σ_L: the short-run chain of training unless ``steps``/``step_size`` are
        given), started from ``init`` (n, *event_shape) or N(0, σ_1² I); ``denoise``
        ends annealed chains with Tweedie's step x + σ_L² s(x, σ_L)."""
        n = check_int("n", n, low=1)
        c = self.context(y, n)
        sampler = sampler or ("annealed" if self.objective == "dsm" else "langevin")
        short_run = self.objective == "cd" and sampler == "langevin"  # the training chain
        if steps is None:
            steps = self.cd_steps if short_run else self.steps
        if step_size is None:
            step_size = self.cd_step_size if short_run else self.step_size
        eta = step_size
        if init is None:
            noise = torch.randn(n, self.features, generator=generator, dtype=self.dtype)
            x = float(self.sigmas[0]) * noise.to(self.device)
        else:
            x = self.check_x(init).reshape(n, -1)
        if sampler == "annealed":
            x = annealed_langevin(
                lambda v, s: self._score(v, torch.as_tensor(s, dtype=v.dtype), c),
                x,
                self.sigmas.tolist(),
                step_size=eta,
                steps=steps,
                generator=generator,
                denoise=denoise,
            )
        elif sampler == "langevin":
            sigma = self.sigmas[-1]
            x = langevin(
                lambda v: self._score(v, sigma, c),
                x,
                step_size=eta,
                steps=steps,
                generator=generator,
            )
        else:
            raise ValueError(f"sampler must be 'annealed' or 'langevin', got {sampler!r}")
        return x.detach().reshape(n, *self.event_shape)

    # ------------------------------------------------------------------ the graph (an MRF)
    @property
    def graph(self):
        """The complete undirected graph over x's coordinates x[0..D−1]: p(x) ∝ exp(−E(x))
        does not factorize, so every pair of coordinates is linked (a Markov random field)."""
        import networkx as nx

        g = nx.complete_graph([f"x[{i}]" for i in range(self.features)])
        g.graph["name"] = "energy model (Markov random field)"
        return g

    def _not_a_dag(self) -> TypeError:
        return TypeError(
            f"{type(self).__name__} is an undirected model, a Markov random field "
            "p(x) ∝ exp(−E(x)) (§2.1), not a Bayesian network: it has no DAG, no factors to "
            "sample ancestrally; use .graph (the undirected graph) and .sample (Langevin)"
        )

    @property
    def network(self) -> BayesNet:
        raise self._not_a_dag()

    @property
    def networks(self) -> dict[str, BayesNet]:
        raise self._not_a_dag()

    def joint(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> tuple[dict[str, Tensor], Tensor]:
        raise self._not_a_dag()

    def observation(self, values: Mapping[str, Tensor]) -> Tensor:
        raise self._not_a_dag()
