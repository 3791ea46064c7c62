"""Latent diffusion (§2.2.4.1): a diffusion model in the latent space of a VAE, composed with
the VAE's decoder into ONE network, as Stable Diffusion (Rombach et al., 2022) does:

    p(x, z_0, z_1..z_T | y) = N(z_T; 0, I) Π_{t=1..T} p(z_{t−1} | z_t, y) · p(x | z_0),

z_T → … → z_1 → z_0 → x, where z_0 ∈ R^L is the VAE's latent, the reverse chain is a
:class:`~bayesgen.generative.Diffusion` over R^L (conditioned on y, with classifier-free
guidance) and p(x | z_0) is the VAE's decoder. Training has two objectives, the parameter groups
``autoencoder`` (the VAE's −ELBO on x) and ``diffusion`` (the ε-loss on latents z_0 ~ q(z_0 | x)
of the current encoder, detached); :meth:`LatentDiffusion.freeze_autoencoder` after training the
autoencoder alone gives the two-stage recipe of Stable Diffusion.

The model's likelihood is bounded by chaining the two bounds: with z_0 ~ q(z_0 | x),

    log p(x | y) ≥ E_q[log p(x | z_0) + ELBO_diffusion(z_0 | y) − log q(z_0 | x)]   (``elbo``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import Distribution

from ..factors.base import Factor
from ..factors.latent import ModuleFactor, StandardNormal
from ..factors.neural import NeuralNormal
from ..network import BayesNet
from ..variables import Continuous
from .base import GenerativeModel
from .diffusion import Diffusion, _ReverseMean
from .schedules import Schedule
from .vae import VAE

__all__ = ["LatentDiffusion"]

_GROUPS = ("autoencoder", "diffusion")


class _Unconditioned(nn.Module):
    """The VAE's decoder as a factor's module: p(x | z_0), the condition y not used (the
    decoder of a latent diffusion model is shared by every class)."""

    def __init__(self, decoder: nn.Module):
        super().__init__()
        self.decoder = decoder

    def forward(self, h: Tensor, context: Tensor | None = None) -> Distribution:
        return self.decoder(h, None)


class LatentDiffusion(GenerativeModel, paradigm="latent-diffusion"):
    """A VAE (``latent_dim``, ``hidden``, ``likelihood``, ``activation``) and a diffusion model
    over its latent (``timesteps``, ``schedule``, ``prediction``, ``diffusion_hidden``,
    ``embedding``, ``conditioning``, ``label_dropout``); y conditions the diffusion only.

    ``train_autoencoder`` False freezes the VAE (its parameters take no gradient and the model
    has the one parameter group ``diffusion``).

    >>> model = LatentDiffusion(8, latent_dim=2, hidden=(16,), timesteps=3, diffusion_hidden=(8,))
    >>> list(model.network.order)
    ['z3', 'z2', 'z1', 'z0', 'x']
    """

    bounds = ("elbo",)

    def __init__(
        self,
        event_shape: tuple[int, ...] | int,
        latent_dim: int = 8,
        hidden: Sequence[int] = (256, 256),
        *,
        likelihood: str = "bernoulli",
        activation: str = "relu",
        timesteps: int = 200,
        schedule: Schedule | str | dict[str, Any] = "cosine",
        prediction: str = "epsilon",
        diffusion_hidden: Sequence[int] = (128, 128, 128),
        embedding: int = 32,
        conditioning: str = "concat",
        label_dropout: float = 0.0,
        train_autoencoder: bool = True,
        num_classes: int | None = None,
        context_size: int | None = None,
    ):
        super().__init__(event_shape, num_classes=num_classes, context_size=context_size)
        if not isinstance(train_autoencoder, bool):
            raise ValueError(f"train_autoencoder must be a bool, got {train_autoencoder!r}")
        self.autoencoder = VAE(
            self.event_shape,
            latent_dim,
            hidden,
            likelihood=likelihood,
            activation=activation,
        )
        self.diffusion = Diffusion(
            latent_dim,
            num_classes=num_classes,
            context_size=context_size,
            timesteps=timesteps,
            schedule=schedule,
            prediction=prediction,
            hidden=diffusion_hidden,
            embedding=embedding,
            conditioning=conditioning,
            label_dropout=label_dropout,
        )
        self.latent_dim, self.hidden = latent_dim, tuple(hidden)
        self.likelihood, self.activation = likelihood, activation
        self.timesteps, self.schedule = timesteps, self.diffusion.schedule
        self.prediction, self.diffusion_hidden = prediction, tuple(diffusion_hidden)
        self.embedding, self.conditioning = embedding, conditioning
        self.label_dropout = float(label_dropout)
        self.train_autoencoder = True
        if not train_autoencoder:
            self.freeze_autoencoder()

    def freeze_autoencoder(self) -> LatentDiffusion:
        """Fix the VAE (stage two of Stable Diffusion's recipe): only the diffusion trains."""
        self.train_autoencoder = False
        for p in self.autoencoder.parameters():
            p.requires_grad_(False)
        return self

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``autoencoder`` (unless frozen) and ``diffusion``, stepped in turn."""
        groups = {"diffusion": list(self.diffusion.parameters())}
        if self.train_autoencoder:
            groups = {"autoencoder": list(self.autoencoder.parameters()), **groups}
        return groups

    # ------------------------------------------------------------------ objectives
    def encode(
        self, x: Tensor, *, sample: bool = True, generator: torch.Generator | None = None
    ) -> Tensor:
        """z_0 ~ q(z_0 | x) (or its mean with ``sample=False``), (B, L), without gradient."""
        with torch.no_grad():
            return self.autoencoder.encode(x, sample=sample, generator=generator)

    def loss(self, x: Tensor, y: Tensor | None = None, *, group: str | None = None) -> Tensor:
        """Group ``autoencoder``: the VAE's −ELBO of x (nats per row); ``diffusion``: the
        diffusion's ε-loss on z_0 ~ q(z_0 | x); None: the sum of the active groups' losses."""
        x = self.autoencoder._check_binary(self.check_x(x))
        if group is None:
            return sum(self.loss(x, y, group=g) for g in self.parameter_groups())
        if group == "autoencoder":
            if not self.train_autoencoder:
                raise ValueError("group 'autoencoder': the autoencoder is frozen")
            return self.autoencoder.loss(x)
        elif group == "diffusion":
            return self.diffusion.loss(self.encode(x), y)
        else:
            raise ValueError(f"group must be None, 'autoencoder' or 'diffusion', got {group!r}")

    def elbo(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """log p(x | z_0) + ELBO_diffusion(z_0 | y) − log q(z_0 | x), z_0 ~ q(z_0 | x): a lower
        bound on log p(x | y) per row, (B,)."""
        x = self.autoencoder._check_binary(self.check_x(x))
        q = self.autoencoder.encoder(x.reshape(len(x), -1), None)  # batch (B,), event (L,)
        loc, scale = q.base_dist.loc, q.base_dist.scale  # (B, L)
        eps = torch.randn(loc.shape, generator=generator, dtype=loc.dtype).to(loc.device)
        z0 = loc + scale * eps  # (B, L)
        rec = self.autoencoder.decoder(z0, None).log_prob(x)  # (B,)
        return rec + self.diffusion.elbo(z0, y, generator=generator) - q.log_prob(z0)

    def metrics(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """The loss of each group and the negative bound in nats (≥ the NLL)."""
        with torch.no_grad():
            out = {f"loss_{g}": self.loss(x, y, group=g) for g in self.parameter_groups()}
            out["loss"] = sum(out.values())
            out["nelbo"] = -self.elbo(x, y).mean()
        return out

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
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
        mean: bool = False,
    ) -> Tensor:
        """z_T → … → z_0 by the diffusion (``sampler``, ``steps``, ``guidance``, ``clip`` as
        :meth:`Diffusion.sample`), then x ~ p(x | z_0), or E[x | z_0] with ``mean=True``;
        (n, *event_shape)."""
        z0 = self.diffusion.sample(
            n, y, generator=generator, steps=steps, sampler=sampler, guidance=guidance, clip=clip
        )  # (n, L)
        return self.autoencoder.decode(z0, mean=mean, generator=generator)

    # ------------------------------------------------------------------ the network
    def _var(self, t: int) -> Continuous:
        return Continuous(f"z{t}", (self.latent_dim,))

    @property
    def network(self) -> BayesNet:
        """z_T → … → z_1 → z_0 → x: a standard-normal root, one NeuralNormal per reverse step
        (sharing the denoiser) and the VAE's decoder as the factor p(x | z_0)."""
        d, C = self.diffusion, self.context_features
        factors: list[Factor] = [StandardNormal(self._var(d.timesteps), dtype=self.dtype)]
        for t in range(d.timesteps, 0, -1):  # the T reverse steps
            factors.append(
                NeuralNormal(
                    self._var(t - 1),
                    [self._var(t)],
                    _ReverseMean(d, t),
                    scale=float(d.reverse_std[t]),
                    context_size=C,
                )
            )
        x = Continuous("x", self.event_shape)
        factors.append(ModuleFactor(x, [self._var(0)], _Unconditioned(self.autoencoder.decoder)))
        return BayesNet(factors, name="latent diffusion p: z_T → … → z_0 → x")

    @property
    def networks(self) -> dict[str, BayesNet]:
        """The composed network ``p`` and the autoencoder's inference network ``q`` (x → z_0)."""
        return {"p": self.network, "q": self.autoencoder.networks["q"]}

    def observation(self, values: Mapping[str, Tensor]) -> Tensor:
        return values["x"]

    def joint(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> tuple[dict[str, Tensor], Tensor]:
        """z_0 ~ q(z_0 | x), z_1..z_T by the forward chain, and log p(x, z_0..z_T | y) =
        log p(z_0..z_T | y) (the diffusion's fast path) + log p(x | z_0)."""
        x = self.autoencoder._check_binary(self.check_x(x))
        z0 = self.encode(x, generator=generator)  # (B, L)
        chain, lp = self.diffusion.joint(z0, y, generator=generator)
        values = {("z0" if k == "x" else k): v for k, v in chain.items()}
        values["x"] = x
        return values, lp + self.autoencoder.decoder(z0, None).log_prob(x)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, latent_dim={self.latent_dim}, timesteps={self.timesteps}, "
            f"train_autoencoder={self.train_autoencoder}"
        )
