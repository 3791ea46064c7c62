"""Diffusion models (§2.2.2.4, eqs. 16–17, figure 11): two Bayesian networks over x, z_1..z_T.

The forward chain q is fixed (no parameters), a Markov chain of Gaussian factors

    q(z_1..z_T | x) = Π_t q(z_t | z_{t−1}),   q(z_t | z_{t−1}) = N(√α_t z_{t−1}, β_t I),  z_0 = x,

with closed forms q(z_t | x) = N(√ᾱ_t x, (1 − ᾱ_t) I) and the posterior
q(z_{t−1} | z_t, x) = N(μ̃_t, β̃_t I),
μ̃_t = √ᾱ_{t−1} β_t/(1 − ᾱ_t) x + √α_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) z_t,
β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) β_t. The reverse chain p is learned (eq. 17):

    p(x, z_1..z_T | y) = N(z_T; 0, I) Π_{t≥2} p(z_{t−1} | z_t, y) · p(x | z_1, y),

every factor a Normal N(μ̃_t(z_t, x̂_0), σ_t² I) whose mean comes from ONE network shared over t
through a time embedding, predicting ε (``prediction="epsilon"``), x_0 (``"x0"``) or
v = √ᾱ ε − √(1 − ᾱ) x_0 (``"v"``); σ_t² = β̃_t for t ≥ 2 and the decoder p(x | z_1) has σ_1² = β_1.

Objectives: the simplified ε-loss E_{t,ε} ||target − f_θ(z_t, t)||² (``loss``) and the ELBO in
nats (``elbo``): E_q log p(x | z_1) − Σ_{t≥2} E_q KL(q(z_{t−1} | z_t, x) || p(z_{t−1} | z_t))
− KL(q(z_T | x) || N(0, I)). Sampling: ancestral through p, or deterministic DDIM with fewer
steps. ``log_prob`` is the exact likelihood of the probability-flow ODE
dz/dt = −½ β(t) (z + ∇ log p_t(z)), integrated with the instantaneous change of variables in
DDIM's coordinates (x̄ = z/√ᾱ against log σ, σ² = (1 − ᾱ)/ᾱ), where it is smooth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from math import prod
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from .._checks import check_int, check_real
from .._constants import TINY
from ..factors.base import Factor
from ..factors.latent import StandardNormal
from ..factors.neural import NeuralNormal
from ..network import BayesNet
from ..variables import Continuous
from .base import GenerativeModel
from .denoiser import Denoiser
from .ode import divergence, odeint
from .schedules import CosineSchedule, LinearSchedule, Schedule, as_schedule, training_times

__all__ = ["Diffusion", "Denoiser", "LinearSchedule", "CosineSchedule"]

_PREDICTIONS = ("epsilon", "x0", "v")


# ---------------------------------------------------------------------------- factors
class ForwardStep(Factor):
    """q(z_t | z_{t−1}) = N(√α_t z_{t−1}, β_t I). Without a parent variable, z_{t−1} = x is
    the network's context (B, D): the forward chain is conditioned on the data."""

    def __init__(
        self,
        variable: Continuous,
        parent: Continuous | None,
        beta: float,
        dtype: torch.dtype | None = None,
    ):
        super().__init__(variable, () if parent is None else (parent,))
        self.register_buffer("coef", torch.tensor(math.sqrt(1 - beta), dtype=dtype))
        self.register_buffer("std", torch.tensor(math.sqrt(beta), dtype=dtype))

    def forward(self, parents: Mapping[str, Tensor], context: Tensor | None = None) -> Distribution:
        if self.parents:
            prev = parents[self.parent_names[0]]
        elif context is None:
            raise ValueError(f"q({self.name} | x) needs x as the network's context")
        else:
            prev = context.reshape(context.shape[0], *self.variable.shape)
        base = Normal(self.coef * prev, self.std.expand(prev.shape))
        return Independent(base, len(self.variable.shape)) if self.variable.shape else base


class _ReverseMean(nn.Module):
    """The mean μ_θ(z_t, t, y) of the reverse factor at a fixed step t, as the network of a
    :class:`~bayesgen.factors.neural.NeuralNormal`: features [z_t, y] (B, D + C) → (B, D).
    The denoiser is shared by every step's factor."""

    def __init__(self, model: Diffusion, t: int):
        super().__init__()
        self.denoiser = model.denoiser  # shared, registered
        object.__setattr__(self, "_model", model)  # not a submodule: no cycle
        self.t = t

    def forward(self, features: Tensor) -> Tensor:
        D = self._model.features
        z, c = features[:, :D], features[:, D:]  # (B, D), (B, C)
        t = torch.full((len(z),), self.t, dtype=torch.long, device=z.device)
        return self._model.reverse_mean(z, t, c if c.shape[1] else None)  # (B, D)


# ---------------------------------------------------------------------------- the model
class Diffusion(GenerativeModel, paradigm="diffusion"):
    """A denoising diffusion model over x of ``event_shape`` with ``timesteps`` = T steps.

    Parameters
    ----------
    schedule: ``LinearSchedule(beta_start, beta_end)``, ``CosineSchedule(s)`` or their names.
    prediction: what the network predicts, ``"epsilon"``, ``"x0"`` or ``"v"``.
    hidden, embedding: the denoiser MLP's hidden sizes and the time embedding's width.
    time_conditioning: how the time embedding enters the denoiser, 'concat' (at the input)
        or 'film' (modulating every hidden layer); see :class:`Denoiser`.
    elbo_fraction: the share f of training rows whose step t is drawn with the ELBO's
        weighting of the ε-loss instead of uniformly: t ~ (1 − f) U{1..T} + f p_λ, with p_λ
        uniform in the log-SNR λ_t = log ᾱ_t/(1 − ᾱ_t) (the continuous ELBO is
        ½ E_{t,ε} [−dλ/dt ||ε − ε̂||²], Kingma et al., 2021), λ floored at −10 so that a capped
        schedule's last step does not take the mass. It weights the small noise levels that
        the likelihood depends on (Song et al., 2021); 0 is Ho et al.'s simple loss.
    conditioning: how y enters the denoiser ('concat', 'film', 'attention').
    label_dropout: probability of dropping y in training (classifier-free guidance; the
        null condition is the all-zero context).

    ``exact_likelihood`` is False: the chain's own likelihood is only bounded (``elbo``);
    ``log_prob`` is the exact likelihood of the probability-flow ODE built on the same
    denoiser (a continuous-time model), up to the solver's tolerance.

    >>> model = Diffusion(2, timesteps=4, hidden=(8,))
    >>> list(model.networks["p"].order)
    ['z4', 'z3', 'z2', 'z1', 'x']
    """

    bounds = ("elbo",)

    def __init__(
        self,
        event_shape: tuple[int, ...] | int,
        *,
        num_classes: int | None = None,
        context_size: int | None = None,
        timesteps: int = 1000,
        schedule: Schedule | str | dict[str, Any] = "cosine",
        prediction: str = "epsilon",
        hidden: Sequence[int] = (128, 128, 128),
        embedding: int = 32,
        time_conditioning: str = "concat",
        elbo_fraction: float = 0.0,
        conditioning: str = "concat",
        label_dropout: float = 0.0,
    ):
        super().__init__(event_shape, num_classes=num_classes, context_size=context_size)
        timesteps = check_int("timesteps", timesteps, low=2)
        elbo_fraction = check_real("elbo_fraction", elbo_fraction, 0.0, 1.0)
        if prediction not in _PREDICTIONS:
            raise ValueError(f"prediction must be 'epsilon', 'x0' or 'v', got {prediction!r}")
        if conditioning not in ("concat", "film", "attention"):
            raise ValueError(
                f"conditioning must be 'concat', 'film' or 'attention', got {conditioning!r}"
            )
        if not isinstance(embedding, int) or embedding < 2 or embedding % 2:
            raise ValueError(f"embedding must be an even int >= 2, got {embedding!r}")
        if not isinstance(label_dropout, (int, float)) or not 0 <= label_dropout < 1:
            raise ValueError(f"label_dropout must be a float in [0, 1), got {label_dropout!r}")
        sched = as_schedule(schedule)
        self.timesteps, self.schedule, self.prediction = timesteps, sched.config, prediction
        self.hidden, self.embedding = tuple(hidden), embedding
        self.time_conditioning, self.elbo_fraction = time_conditioning, elbo_fraction
        self.conditioning, self.label_dropout = conditioning, float(label_dropout)
        self.features = prod(self.event_shape)
        self.denoiser = Denoiser(
            self.features,
            self.hidden,
            embedding=embedding,
            context_size=self.context_features,
            conditioning=conditioning,
            time_conditioning=time_conditioning,
        )
        # the schedule, index t = 0..T (t = 0 is the data: ᾱ_0 = 1), computed in float64
        betas = torch.cat([torch.zeros(1, dtype=torch.float64), sched.betas(timesteps)])
        log_abar = torch.cumsum(torch.log1p(-betas), 0)  # (T + 1,)
        abar = log_abar.exp()
        abar_prev = torch.cat([abar[:1], abar[:-1]])
        post_var = betas * (1 - abar_prev) / (1 - abar).clamp(min=TINY)  # β̃_t
        dtype = torch.get_default_dtype()
        for name, value in {
            "betas": betas,
            "alphas_cumprod": abar,
            "log_alphas_cumprod": log_abar,
            # posterior mean coefficients of x̂_0 and z_t
            "post_coef_x0": abar_prev.sqrt() * betas / (1 - abar).clamp(min=TINY),
            "post_coef_zt": (1 - betas).sqrt() * (1 - abar_prev) / (1 - abar).clamp(min=TINY),
            "post_var": post_var,
            # the reverse factors' standard deviations: σ_1 = √β_1 (decoder), σ_t = √β̃_t
            "reverse_std": torch.cat([betas[:2], post_var[2:]]).sqrt(),
        }.items():
            self.register_buffer(name, value.to(dtype))
        proposal = training_times(log_abar, elbo_fraction)  # (T + 1,), derived: not saved
        self.register_buffer("time_proposal", proposal.to(dtype), persistent=False)

    # ------------------------------------------------------------------ the forward chain q
    def _col(self, buffer: Tensor, t: Tensor) -> Tensor:
        return buffer[t].unsqueeze(-1)  # (B, 1)

    def log_alpha_bar(self, t: Tensor) -> Tensor:
        """log ᾱ at integer steps t (gathered), or at real t ∈ [0, T] with log ᾱ linear between
        the integers (the continuous time of the probability-flow ODE); shape of t."""
        if not t.is_floating_point():
            return self.log_alphas_cumprod[t]
        i = t.detach().floor().clamp(0, self.timesteps - 1).long()
        w = (t - i).to(self.log_alphas_cumprod.dtype)
        return (1 - w) * self.log_alphas_cumprod[i] + w * self.log_alphas_cumprod[i + 1]

    def add_noise(self, x: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """z_t = √ᾱ_t x + √(1 − ᾱ_t) ε ~ q(z_t | x); x, noise (B, D), t (B,) in 1..T."""
        abar = self._col(self.alphas_cumprod, t)
        return abar.sqrt() * x + (1 - abar).sqrt() * noise

    def q_posterior(self, x: Tensor, z: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Mean (B, D) and variance (B, 1) of q(z_{t−1} | z_t, x), t in 1..T."""
        mean = self._col(self.post_coef_x0, t) * x + self._col(self.post_coef_zt, t) * z
        return mean, self._col(self.post_var, t)

    # ------------------------------------------------------------------ the reverse chain p
    def to_x0_eps(self, output: Tensor, z: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """(x̂_0, ε̂) from the network's output at z_t (B, D), t (B,) integer or real."""
        if t.is_floating_point():
            log_abar = self.log_alpha_bar(t).unsqueeze(-1).to(z.dtype)  # (B, 1)
            a, s = (0.5 * log_abar).exp(), (-torch.expm1(log_abar)).sqrt()  # √ᾱ, √(1 − ᾱ)
        else:
            abar = self._col(self.alphas_cumprod, t)  # (B, 1)
            a, s = abar.sqrt(), (1 - abar).sqrt()
        if self.prediction == "epsilon":
            return (z - s * output) / a, output
        elif self.prediction == "x0":
            return output, (z - a * output) / s
        elif self.prediction == "v":
            return a * z - s * output, s * z + a * output
        else:
            raise ValueError(f"prediction must be 'epsilon', 'x0' or 'v', got {self.prediction!r}")

    def output(
        self, z: Tensor, t: Tensor, context: Tensor | None, guidance: float | None = None
    ) -> Tensor:
        """The network's prediction at (z_t, t, y), (B, D); with classifier-free ``guidance``
        w: f(∅) + w (f(y) − f(∅)), the null condition ∅ being the zero context."""
        tf = t.to(z.dtype)
        out = self.denoiser(z, tf, context)
        if guidance is not None and context is not None:
            uncond = self.denoiser(z, tf, torch.zeros_like(context))
            out = uncond + guidance * (out - uncond)
        return out

    def reverse_mean(self, z: Tensor, t: Tensor, context: Tensor | None = None) -> Tensor:
        """μ_θ(z_t, t) = μ̃_t(z_t, x̂_0(z_t, t)), the mean of p(z_{t−1} | z_t, y); (B, D)."""
        x0, _ = self.to_x0_eps(self.output(z, t, context), z, t)
        return self.q_posterior(x0, z, t)[0]

    def ancestral_step(
        self, output: Tensor, z: Tensor, t: int, noise: Tensor, *, clip: float | None = None
    ) -> Tensor:
        """z_{t−1} = μ̃_t(z_t, x̂_0) + σ_t ε, one step of eq. 17 given the network output
        (x̂_0 clamped to [−clip, clip] when ``clip`` is given)."""
        tt = torch.full((len(z),), t, dtype=torch.long, device=z.device)
        x0, _ = self.to_x0_eps(output, z, tt)
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
        return self.q_posterior(x0, z, tt)[0] + self.reverse_std[t] * noise

    def ddim_step(
        self, output: Tensor, z: Tensor, t: int, t_prev: int, *, clip: float | None = None
    ) -> Tensor:
        """Deterministic DDIM (η = 0): z_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'}) ε̂, t' < t; with
        ``clip``, x̂_0 is clamped and ε̂ re-derived from it (GLIDE's choice, diffusers'
        ``use_clipped_model_output``)."""
        tt = torch.full((len(z),), t, dtype=torch.long, device=z.device)
        x0, eps = self.to_x0_eps(output, z, tt)
        if clip is not None:
            x0 = x0.clamp(-clip, clip)
            abar_t = self.alphas_cumprod[t]
            eps = (z - abar_t.sqrt() * x0) / (1 - abar_t).sqrt()
        abar = self.alphas_cumprod[t_prev]
        return abar.sqrt() * x0 + (1 - abar).sqrt() * eps

    # ------------------------------------------------------------------ objectives
    def _flat(self, x: Tensor) -> Tensor:
        return x.reshape(len(x), self.features)  # (B, D)

    def loss(self, x: Tensor, y: Tensor | None = None, *, group: str | None = None) -> Tensor:
        """E_{t, ε} ||target − f_θ(z_t, t, y)||² (target ε, x_0 or v), t ~ U{1..T} or the
        mixture that ``elbo_fraction`` sets, with y dropped with probability ``label_dropout``
        (classifier-free guidance)."""
        x = self._flat(self.check_x(x))
        B = len(x)
        c = self.context(y, B)
        if c is not None and self.label_dropout > 0:
            keep = torch.rand(B, 1, device=x.device) >= self.label_dropout
            c = c * keep.to(c.dtype)  # (B, C); dropped rows are the null condition
        if self.elbo_fraction > 0:
            t = torch.multinomial(self.time_proposal, B, replacement=True)  # (B,) in 1..T
        else:
            t = torch.randint(1, self.timesteps + 1, (B,), device=x.device)
        eps = torch.randn_like(x)
        z = self.add_noise(x, eps, t)  # (B, D)
        out = self.denoiser(z, t.to(z.dtype), c)
        if self.prediction == "epsilon":
            target = eps
        elif self.prediction == "x0":
            target = x
        elif self.prediction == "v":
            abar = self._col(self.alphas_cumprod, t)
            target = abar.sqrt() * eps - (1 - abar).sqrt() * x
        else:
            raise ValueError(f"prediction must be 'epsilon', 'x0' or 'v', got {self.prediction!r}")
        return (out - target).pow(2).mean()

    def _step_terms(self, x: Tensor, c: Tensor | None, t: Tensor, eps: Tensor) -> Tensor:
        """Per (step, row): log p(x | z_1) where t = 1, −KL(q(z_{t−1}|z_t,x) || p(z_{t−1}|z_t))
        where t ≥ 2, with z_t = add_noise(x, eps, t). x, eps (N, D), t (N,) → (N,)."""
        z = self.add_noise(x, eps, t)
        x0, _ = self.to_x0_eps(self.output(z, t, c), z, t)
        mean_q, var_q = self.q_posterior(x, z, t)
        mean_p = self.q_posterior(x0, z, t)[0]
        std_p = self._col(self.reverse_std, t).expand_as(mean_p)
        p = Independent(Normal(mean_p, std_p), 1)
        decoder = p.log_prob(x)  # (N,)
        q = Independent(Normal(mean_q, var_q.clamp(min=1e-30).sqrt().expand_as(mean_q)), 1)
        return torch.where(t == 1, decoder, -kl_divergence(q, p))

    def elbo(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        estimator: str = "auto",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The evidence lower bound in nats per row, (B,).

        ``estimator="exact"`` sums every step t = 1..T (one z_t per step and row);
        ``"uniform"`` is the unbiased T · term_t with one t ~ U{1..T} per row; ``"auto"``
        takes the exact sum for T ≤ 100. The prior KL(q(z_T | x) || N(0, I)) is closed form."""
        x = self._flat(self.check_x(x))
        B, D, T = len(x), self.features, self.timesteps
        c = self.context(y, B)
        if estimator == "auto":
            estimator = "exact" if T <= 100 else "uniform"
        if estimator == "exact":
            t = torch.arange(1, T + 1, device=x.device).repeat_interleave(B)  # (T·B,)
            xs = x.repeat(T, 1)  # (T·B, D)
            cs = None if c is None else c.repeat(T, 1)
            eps = torch.randn(T * B, D, generator=generator, dtype=x.dtype).to(x.device)
            steps = self._step_terms(xs, cs, t, eps).reshape(T, B).sum(0)  # (B,)
        elif estimator == "uniform":
            t = torch.randint(1, T + 1, (B,), generator=generator).to(x.device)
            eps = torch.randn(B, D, generator=generator, dtype=x.dtype).to(x.device)
            steps = T * self._step_terms(x, c, t, eps)  # (B,)
        else:
            raise ValueError(f"estimator must be 'auto', 'exact' or 'uniform', got {estimator!r}")
        abar = self.alphas_cumprod[T]
        q_T = Independent(Normal(abar.sqrt() * x, (1 - abar).sqrt().expand_as(x)), 1)
        prior = Independent(Normal(torch.zeros_like(x), torch.ones_like(x)), 1)
        return steps - kl_divergence(q_T, prior)

    def metrics(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """The loss and the negative ELBO in nats (an upper bound on the NLL)."""
        return {"loss": self.loss(x, y), "nelbo": -self.elbo(x, y).mean()}

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        n: int,
        y: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        sampler: str = "ancestral",
        guidance: float | None = None,
        clip: float | None = None,
    ) -> Tensor:
        """n draws (n, *event_shape): ``sampler="ancestral"`` through every factor of p (eq. 17),
        or ``"ddim"``, deterministic given z_T, on ``steps`` evenly spaced steps
        τ_k = k·⌊T/steps⌋ + 1 (default 50). ``guidance``: the classifier-free guidance weight.
        ``clip``: x̂_0 is clamped to [−clip, clip] at every step (diffusers' ``clip_sample``):
        near t = T a step divides the denoiser's error by √α_t ≪ 1, and a draw the denoiser
        misjudges there can otherwise grow without bound."""
        _, states = self.trajectory(
            n, y, generator=generator, steps=steps, sampler=sampler, guidance=guidance,
            keep=(0,), clip=clip,
        )  # fmt: skip
        return states[0]

    @torch.no_grad()
    def trajectory(
        self,
        n: int,
        y: Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        sampler: str = "ancestral",
        guidance: float | None = None,
        keep: Sequence[int] = (),
        clip: float | None = None,
    ) -> tuple[list[int], dict[int, Tensor]]:
        """Run the reverse chain as :meth:`sample` does; returns the steps visited (T first,
        0 last) and the states z_t (n, *event_shape) at the visited steps listed in ``keep``."""
        n = check_int("n", n, low=1)
        if clip is not None:
            clip = check_real("clip", clip, low=0.0, open_low=True)
        c = self.context(y, n)
        T, dev, keep = self.timesteps, self.device, set(keep)
        z = torch.randn(n, self.features, generator=generator, dtype=self.dtype).to(dev)
        if sampler == "ancestral":
            if steps is not None and steps != T:
                raise ValueError(f"steps must be None or {T} for ancestral sampling, got {steps!r}")
            visited = list(range(T, -1, -1))
        elif sampler == "ddim":
            steps = min(50, T) if steps is None else steps
            if not isinstance(steps, int) or not 1 <= steps <= T:
                raise ValueError(f"steps must be an int in [1, {T}], got {steps!r}")
            visited = [*self.ddim_timesteps(steps), 0]
        else:
            raise ValueError(f"sampler must be 'ancestral' or 'ddim', got {sampler!r}")
        states = {visited[0]: z.reshape(n, *self.event_shape)} if visited[0] in keep else {}
        for t, t_prev in zip(visited[:-1], visited[1:], strict=True):  # time steps, not rows
            tt = torch.full((n,), t, dtype=torch.long, device=dev)
            out = self.output(z, tt, c, guidance)
            if sampler == "ancestral":
                noise = torch.randn(n, self.features, generator=generator, dtype=z.dtype)
                z = self.ancestral_step(out, z, t, noise.to(dev), clip=clip)
            else:
                z = self.ddim_step(out, z, t, t_prev, clip=clip)
            if t_prev in keep:
                states[t_prev] = z.reshape(n, *self.event_shape)
        return visited, states

    def ddim_timesteps(self, steps: int) -> list[int]:
        """The DDIM steps, descending: k·⌊T/steps⌋ + 1 for k = steps−1..0."""
        ratio = self.timesteps // steps
        return [k * ratio + 1 for k in range(steps - 1, -1, -1)]

    # ------------------------------------------------------------------ exact likelihood (ODE)
    def time_of(self, log_abar: Tensor) -> Tensor:
        """The real t ∈ [0, T] with log ᾱ(t) = ``log_abar`` (the inverse of the piecewise-linear
        interpolation of :meth:`log_alpha_bar`)."""
        L = self.log_alphas_cumprod  # (T + 1,), decreasing
        k = torch.searchsorted(L.flip(0), log_abar.contiguous()).clamp(1, self.timesteps)
        i = self.timesteps - k  # L[i + 1] < log_abar <= L[i]
        return i.to(log_abar.dtype) + (L[i] - log_abar) / (L[i] - L[i + 1])

    def flow(self, xbar: Tensor, u: Tensor, context: Tensor | None = None) -> Tensor:
        """The probability-flow ODE in DDIM's coordinates x̄ = z/√ᾱ and u = log σ,
        σ = √((1 − ᾱ)/ᾱ): dx̄/du = σ ε̂(√ᾱ x̄, t(σ)), smooth in u whatever the schedule.
        (In z and t it is dz/dt = −½ β(t) (z + ∇ log p_t(z)), ∇ log p_t = −ε̂/√(1 − ᾱ).)"""
        sigma = u.exp()
        log_abar = -torch.log1p(sigma * sigma)  # ᾱ = 1/(1 + σ²)
        t = self.time_of(log_abar.reshape(1)).expand(len(xbar))
        z = (0.5 * log_abar).exp() * xbar
        _, eps = self.to_x0_eps(self.output(z, t, context), z, t)
        return sigma * eps  # (B, D)

    def log_prob(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        method: str = "dopri5",
        divergence_estimator: str = "auto",
        steps: int = 100,
        rtol: float = 1e-5,
        atol: float = 1e-5,
        t_min: float = 1e-3,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """log p(x | y) of the probability-flow ODE, (B,), by the instantaneous change of
        variables: integrate x̄ and ∫ div f du from u(t_min) to u(T) (see :meth:`flow`), then
        log p(x) = log N(z_T; 0, I) + D/2 log ᾱ_T + ∫ div f du − D/2 log ᾱ(t_min).
        ``method``: 'dopri5' (adaptive, ``rtol``/``atol``) or 'rk4' (``steps`` fixed steps).
        The divergence is exact by autograd (``"exact"``; ``"auto"`` for D ≤ 16) or
        Hutchinson's estimate with one Rademacher probe per row (``"hutchinson"``)."""
        x = self._flat(self.check_x(x))
        B, D = x.shape
        c = self.context(y, B)
        if divergence_estimator == "auto":
            divergence_estimator = "exact" if D <= 16 else "hutchinson"
        if divergence_estimator == "exact":
            probe = None
        elif divergence_estimator == "hutchinson":
            probe = torch.randint(0, 2, (B, D), generator=generator).to(x) * 2 - 1
        else:
            raise ValueError(
                "divergence_estimator must be 'auto', 'exact' or 'hutchinson', got "
                f"{divergence_estimator!r}"
            )
        if not 0 < t_min < 1:
            raise ValueError(f"t_min must be in (0, 1), got {t_min!r}")
        log_a0 = self.log_alpha_bar(torch.tensor(t_min, dtype=self.log_alphas_cumprod.dtype))
        log_a1 = self.log_alphas_cumprod[-1]

        def u_of(log_abar: Tensor) -> float:  # log σ = ½ log(1/ᾱ − 1)
            return float(0.5 * torch.log(torch.expm1(-log_abar)))

        def field(u: Tensor, state: Tensor) -> Tensor:
            f, div = divergence(lambda xb: self.flow(xb, u, c), state[:, :D], noise=probe)
            return torch.cat([f, div.unsqueeze(-1)], dim=-1)  # (B, D + 1)

        xbar = x * (-0.5 * log_a0).exp().to(x.dtype)
        state = torch.cat([xbar, torch.zeros(B, 1, dtype=x.dtype, device=x.device)], dim=-1)
        end = odeint(
            field,
            state,
            u_of(log_a0),
            u_of(log_a1),
            method=method,
            steps=steps,
            rtol=rtol,
            atol=atol,
        )
        zT = end[:, :D] * (0.5 * log_a1).exp().to(x.dtype)
        prior = Normal(torch.zeros_like(zT), torch.ones_like(zT)).log_prob(zT).sum(-1)
        return prior + end[:, D] + 0.5 * D * float(log_a1 - log_a0)

    # ------------------------------------------------------------------ the networks
    def _var(self, t: int) -> Continuous:
        return Continuous("x" if t == 0 else f"z{t}", self.event_shape)

    @property
    def network(self) -> BayesNet:
        """p: z_T → z_{T−1} → … → z_1 → x, a standard-normal root and one NeuralNormal per
        step, all sharing the one denoiser."""
        T, C = self.timesteps, self.context_features
        factors: list[Factor] = [StandardNormal(self._var(T), dtype=self.dtype)]
        for t in range(T, 0, -1):
            factors.append(
                NeuralNormal(
                    self._var(t - 1),
                    [self._var(t)],
                    _ReverseMean(self, t),
                    scale=float(self.reverse_std[t]),
                    context_size=C,
                )
            )
        return BayesNet(factors, name="diffusion p (reverse)")

    @property
    def forward_network(self) -> BayesNet:
        """q: x → z_1 → … → z_T, fixed Gaussian steps; x enters as the network's context."""
        betas = self.betas.tolist()
        factors = [
            ForwardStep(self._var(t), None if t == 1 else self._var(t - 1), betas[t], self.dtype)
            for t in range(1, self.timesteps + 1)
        ]
        return BayesNet(factors, name="diffusion q (forward)")

    @property
    def networks(self) -> dict[str, BayesNet]:
        return {"q": self.forward_network, "p": self.network}

    def observation(self, values: Mapping[str, Tensor]) -> Tensor:
        return values["x"]

    def joint(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> tuple[dict[str, Tensor], Tensor]:
        """z_1..z_T ~ q(· | x) by the forward chain, and log p(x, z_1..z_T | y) computed with
        one batched pass of the denoiser over all T steps."""
        x = self.check_x(x)
        xf = self._flat(x)
        B, D, T = len(x), self.features, self.timesteps
        c = self.context(y, B)
        noise = torch.randn(T, B, D, generator=generator, dtype=xf.dtype).to(xf.device)
        zs, z = [], xf
        for t in range(1, T + 1):  # time steps, not rows
            z = (1 - self.betas[t]).sqrt() * z + self.betas[t].sqrt() * noise[t - 1]
            zs.append(z)
        Z = torch.stack(zs)  # (T, B, D): z_1..z_T
        child = torch.cat([xf[None], Z[:-1]])  # (T, B, D): x, z_1..z_{T−1}
        t = torch.arange(1, T + 1, device=x.device).repeat_interleave(B)  # (T·B,)
        cs = None if c is None else c.repeat(T, 1)
        mean = self.reverse_mean(Z.reshape(T * B, D), t, cs)  # (T·B, D)
        std = self._col(self.reverse_std, t).expand_as(mean)
        steps = Normal(mean, std).log_prob(child.reshape(T * B, D)).sum(-1)  # (T·B,)
        prior = Normal(0.0, 1.0).log_prob(Z[-1]).sum(-1)  # (B,)
        values = {"x": x, **{f"z{t}": Z[t - 1].reshape(x.shape) for t in range(1, T + 1)}}
        return values, prior + steps.reshape(T, B).sum(0)
