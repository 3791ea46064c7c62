"""Generative adversarial networks (§2.2.2.3, figure 10).

The generator is the network p(x, z | y) = p(z) p(x | z, y) with z ~ N(0, I_L) and a
deterministic factor x = G(z, y); the discriminator is a Bernoulli factor q(d = real | x, y) =
σ(D(x, y)) used only in training. The two play the objective of :mod:`.adversarial` on two
parameter groups, stepped in turn by the training loop (``"discriminator"`` first).

Options: ``spectral_norm`` constrains each discriminator layer's largest singular value to 1
(Miyato et al., 2018); ``pack`` = m feeds the discriminator m rows at once (PacGAN, Lin et al.,
2018), which penalizes a generator that collapses onto few modes. ``disc_conditioning=
'projection'`` gives the discriminator y only at its output, D(x, y) = ψ(h(x)) + e_yᵀ h(x) (the
projection discriminator, Miyato & Koyama, 2018), which scores how well x fits its class rather
than learning p(y) from a concatenated input. ``classifier_weight`` = λ > 0 adds AC-GAN's
auxiliary classifier (Odena et al., 2017): the discriminator also outputs q(y | x), fitted on the
real rows by −λ E_P[log q(y | x)], and the generator adds −λ E_Q[log q(y | G(z, y))], so that
each sample is drawn towards what the discriminator recognises as its class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Categorical
from torch.nn.functional import cross_entropy

from .._checks import check_int
from ..factors.deterministic import Deterministic
from ..factors.latent import Flat, ModuleFactor, StandardNormal
from ..network import BayesNet
from ..nn import MLP
from ..variables import Continuous, Discrete
from .adversarial import OBJECTIVES, as_objective
from .base import GenerativeModel

__all__ = ["GAN"]


class _Discriminate(nn.Module):
    """q(d | x_1..x_m, y) = Categorical over (fake, real) with logits (0, D(x, y)): the
    discriminator as a factor (a Bernoulli on the codes of a two-state variable)."""

    def __init__(self, critic: nn.Module):
        super().__init__()
        self.critic = critic

    def forward(self, h: Tensor, c: Tensor | None) -> Categorical:
        v = self.critic(h, c)[..., 0]  # (B,) (an auxiliary classifier's outputs follow)
        return Categorical(logits=torch.stack([torch.zeros_like(v), v], -1))


class GAN(GenerativeModel, paradigm="gan"):
    """A GAN on rows x of shape ``event_shape``.

    Parameters
    ----------
    latent_dim: L, the size of z ~ N(0, I_L). hidden / disc_hidden: the generator's and the
        discriminator's hidden layers. objective: one of ``OBJECTIVES`` ('nonsaturating',
        'minimax', 'wgan-gp', 'f-kl', 'f-reverse-kl', 'f-pearson', 'f-js', 'f-gan').
    spectral_norm: spectral normalization of the discriminator. pack: PacGAN's m (rows per
        discriminator input; a batch keeps a multiple of m rows). gp_weight: the WGAN-GP λ.
    conditioning: how y enters the generator ('concat', 'film', 'attention'; see
        :mod:`bayesgen.nn`). disc_conditioning: how it enters the discriminator, the same by
        default; 'projection' for the projection discriminator. classifier_weight: λ of the
        auxiliary classifier (AC-GAN; 0: none; needs num_classes).
    """

    def __init__(
        self,
        event_shape: tuple[int, ...] | int,
        latent_dim: int = 2,
        hidden: Sequence[int] = (128, 128),
        disc_hidden: Sequence[int] = (128, 128),
        *,
        objective: str = "nonsaturating",
        spectral_norm: bool = False,
        pack: int = 1,
        gp_weight: float = 10.0,
        num_classes: int | None = None,
        context_size: int | None = None,
        conditioning: str = "concat",
        disc_conditioning: str | None = None,
        classifier_weight: float = 0.0,
    ):
        super().__init__(event_shape, num_classes=num_classes, context_size=context_size)
        latent_dim = check_int("latent_dim", latent_dim, low=1)
        pack = check_int("pack", pack, low=1)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        self.latent_dim, self.hidden, self.disc_hidden = (
            latent_dim,
            tuple(hidden),
            tuple(disc_hidden),
        )
        self.objective, self.spectral_norm, self.pack = objective, bool(spectral_norm), pack
        self.gp_weight, self.conditioning = float(gp_weight), conditioning
        self.disc_conditioning = disc_conditioning
        if not isinstance(classifier_weight, int | float) or not classifier_weight >= 0:
            raise ValueError(f"classifier_weight must be a number >= 0, got {classifier_weight!r}")
        if classifier_weight and num_classes is None:
            raise ValueError("classifier_weight > 0 needs class labels: give num_classes")
        self.classifier_weight = float(classifier_weight)
        K = num_classes if self.classifier_weight else 0  # q(y | x) for each packed row
        self.rule = as_objective(objective)
        if objective == "wgan-gp":
            self.rule.gradient_penalty = self.gp_weight
        D, C = self.size, self.context_features
        self.generator = MLP(latent_dim, D, self.hidden, context_size=C, conditioning=conditioning)
        self.discriminator = MLP(
            pack * D,
            1 + pack * K,
            self.disc_hidden,
            activation=_LeakyReLU,
            context_size=pack * C,
            conditioning=conditioning if disc_conditioning is None else disc_conditioning,
        )
        if self.spectral_norm:
            for layer in self.discriminator.linears:
                nn.utils.parametrizations.spectral_norm(layer)

    @property
    def size(self) -> int:
        n = 1
        for s in self.event_shape:
            n *= s
        return n

    # ------------------------------------------------------------------ the two players
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "discriminator": list(self.discriminator.parameters()),
            "generator": list(self.generator.parameters()),
        }

    def generate(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """x = G(z, y): z (B, L) → (B, *event_shape)."""
        return self.generator(z, c).reshape(len(z), *self.event_shape)

    def critic(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """The discriminator's raw outputs v on packs of m rows: x (B, *event) → (B // m,)."""
        return self._discriminate(x, c)[:, 0]

    def class_logits(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        """The auxiliary classifier's logits of q(y | x): x (B, *event) → (B, K)."""
        if not self.classifier_weight:
            raise ValueError("this GAN has no auxiliary classifier (classifier_weight=0)")
        return self._logits(self._discriminate(x, c), len(x))

    def _discriminate(self, x: Tensor, c: Tensor | None) -> Tensor:
        """All the discriminator's outputs on packs of m rows: (B // m, 1 + m K)."""
        m = self.pack
        packed = x.reshape(len(x) // m, m * self.size)  # (B/m, m D)
        cp = None if c is None else c.reshape(len(c) // m, m * c.shape[-1])  # (B/m, m C)
        return self.discriminator(packed, cp)

    def loss(self, x: Tensor, y: Tensor | None = None, *, group: str | None = None) -> Tensor:
        """The loss of ``group``: 'discriminator' (also ``None``) or 'generator'. Both draw
        fresh z; a batch keeps the largest multiple of ``pack`` rows."""
        x = self.check_x(x)
        c = self.context(y, len(x))
        keep = len(x) - len(x) % self.pack
        if keep == 0:
            raise ValueError(f"a batch needs at least pack={self.pack} rows, got {len(x)}")
        x = x[:keep]
        c = None if c is None else c[:keep]
        z = torch.randn(keep, self.latent_dim, device=x.device, dtype=x.dtype)
        fake = self.generate(z, c)  # (B, *event)
        if group in (None, "discriminator"):
            fake = fake.detach()
            real_out = self._discriminate(x, c)  # (B/m, 1 + m K)
            loss = self.rule.discriminator_loss(real_out[:, 0], self.critic(fake, c))
            if self.rule.gradient_penalty:
                loss = loss + self.rule.gradient_penalty * self._gradient_penalty(x, fake, c)
            if self.classifier_weight:  # q(y | x) fitted on the real rows
                loss = loss + self._classifier_loss(real_out, c)
            return loss
        elif group == "generator":
            out = self._discriminate(fake, c)  # (B/m, 1 + m K)
            loss = self.rule.generator_loss(out[:, 0])
            if self.classifier_weight:  # each sample drawn towards its class under q(y | x)
                loss = loss + self._classifier_loss(out, c)
            return loss
        else:
            raise ValueError(f"group must be 'discriminator' or 'generator', got {group!r}")

    def _logits(self, out: Tensor, n: int) -> Tensor:
        """The class logits (n, K) among the discriminator's outputs (n // m, 1 + m K)."""
        return out[:, 1:].reshape(n, self.num_classes)

    def _classifier_loss(self, out: Tensor, c: Tensor) -> Tensor:
        """−λ mean log q(y | x) from the discriminator's outputs (B/m, 1 + m K) and the one-hot
        labels c (B, K)."""
        return self.classifier_weight * cross_entropy(self._logits(out, len(c)), c.argmax(-1))

    def _gradient_penalty(self, real: Tensor, fake: Tensor, c: Tensor | None) -> Tensor:
        """E[(‖∇_x̂ v(x̂)‖ − 1)²], x̂ = ε x + (1 − ε) x̃ with ε ~ U(0, 1) per pack."""
        m = self.pack
        eps = torch.rand(len(real) // m, 1, device=real.device, dtype=real.dtype)
        eps = eps.repeat_interleave(m, 0).reshape(len(real), *([1] * (real.dim() - 1)))
        mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
        v = self.critic(mix, c)
        (grad,) = torch.autograd.grad(v.sum(), mix, create_graph=True)
        norms = grad.reshape(len(v), -1).norm(dim=1)  # per pack
        return ((norms - 1) ** 2).mean()

    def metrics(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        return {
            "discriminator_loss": self.loss(x, y, group="discriminator"),
            "generator_loss": self.loss(x, y, group="generator"),
        }

    def sample(
        self, n: int, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> Tensor:
        n = check_int("n", n, low=1)
        c = self.context(y, n)
        z = torch.randn(n, self.latent_dim, generator=generator, device=self.device)
        return self.generate(z.to(self.dtype), c)

    # ------------------------------------------------------------------ the networks
    @property
    def network(self) -> BayesNet:
        """p: z → x, a standard normal root and the generator as a deterministic factor."""
        z = Continuous("z", shape=(self.latent_dim,))
        x = Continuous("x", shape=self.event_shape)
        return BayesNet(
            [StandardNormal(z), Deterministic(x, [z], self.generator)], name="GAN generator"
        )

    @property
    def networks(self) -> dict[str, BayesNet]:
        """Figure 10: the generator p (z → x) and the discriminator q (x_1..x_m → d)."""
        names = [f"x{i + 1}" for i in range(self.pack)] if self.pack > 1 else ["x"]
        xs = [Continuous(name, shape=self.event_shape) for name in names]
        d = Discrete("d", ["fake", "real"])
        factors = [Flat(v) for v in xs]
        factors.append(ModuleFactor(d, xs, _Discriminate(self.discriminator)))
        return {"p": self.network, "discriminator": BayesNet(factors, name="GAN discriminator")}

    def joint(self, x, y=None, *, generator=None):
        """A GAN puts no density on given data x: the assignment is a generated one, z ~ N(0, I)
        and x = G(z, y), whose log-density is log N(z; 0, I)."""
        x = self.check_x(x)
        c = self.context(y, len(x))
        z = torch.randn(len(x), self.latent_dim, generator=generator, device=self.device)
        z = z.to(self.dtype)
        log_pz = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)  # (B,)
        return {"z": z, "x": self.generate(z, c)}, log_pz

    def observation(self, values: Mapping[str, Tensor]) -> Tensor:
        return values["x"]


class _LeakyReLU(nn.LeakyReLU):
    def __init__(self):
        super().__init__(0.2)
