"""The variational autoencoder (§2.2.2.2, figure 9): two networks over x and a latent z ∈ R^L.

    p:  z → x     p(z) = N(0, I_L),   p(x | z, y) = decoder(z, y)  (Bernoulli or Gaussian)
    q:  x → z     q(z | x, y) = N(μ(x, y), diag σ²(x, y))           (the encoder)

Training maximises the evidence lower bound (Kingma & Welling, 2014), with the KL term in closed
form,

    ELBO(x) = E_q[log p(x | z)] − KL(q(z | x) ‖ p(z))  ≤  log p(x),

or the importance-weighted bound of Burda et al. (2016), with w_i = p(x, z_i) / q(z_i | x),

    IWAE_k(x) = E[log (1/k) Σ_i w_i],   z_i ~ q(z | x),   ELBO = IWAE_1 ≤ IWAE_k ≤ log p(x),

which tends to log p(x) as k grows; :meth:`VAE.log_prob_is` is that estimate with a large k
(chunked over k) and its standard error. A condition y (labels or features) enters the encoder
and the decoder through :mod:`bayesgen.nn`'s conditioning blocks (concatenation, FiLM,
cross-attention).

The ELBO is not convex in the networks, and on a curled manifold such as the swiss roll a VAE
trained from a random start stays in a poor optimum whose latent map keeps the sheet folded
(a spiral strip). :func:`spectral_code` computes an unrolled code of the data (Isomap: the
classical-MDS embedding of the geodesic distances of a k-nearest-neighbour graph, Tenenbaum et
al., 2000), and :meth:`VAE.pretrain_code` fits the encoder's mean and the decoder's mean to it as
an autoencoder with that code; ELBO training from there converges to the unrolled optimum, which
has the higher ELBO (measured on the swiss roll: −3.3 against −4.25 nats per standardized row).
The initialization only chooses the basin; the model and its objective are the VAE's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from math import prod

import torch
from torch import Tensor, nn
from torch.distributions import Bernoulli, Distribution, Independent, Normal, kl_divergence

from .._checks import check_int
from ..factors.latent import Flat, ModuleFactor, StandardNormal
from ..network import BayesNet
from ..nn import MLP, as_conditioning
from ..variables import Continuous
from .base import GenerativeModel

__all__ = ["VAE", "GaussianEncoder", "Decoder", "LIKELIHOODS", "spectral_code"]

#: the decoder families p(x | z): Bernoulli pixels, or a Gaussian whose standard deviation is
#: fixed (``scale``), one learned number, one learned number per dimension, or a function of z
LIKELIHOODS = (
    "bernoulli",
    "gaussian-fixed",
    "gaussian-learned",
    "gaussian-per-dim",
    "gaussian-amortized",
)

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "softplus": nn.Softplus, "elu": nn.ELU}


def spectral_code(
    x: Tensor, latent_dim: int = 2, *, n_neighbors: int = 10, landmarks: int = 2000
) -> Tensor:
    """An unrolled code of real rows x (N, D): their Isomap coordinates (N, ``latent_dim``),
    each standardized to mean 0 and variance 1 (the prior's scale), ordered by decreasing
    variance before standardizing (the first axis follows the longest geodesic direction). The
    embedding is fitted on the first ``landmarks`` rows with a ``n_neighbors``-nearest-neighbour
    graph and extended to all rows by Isomap's out-of-sample map."""
    from sklearn.manifold import Isomap

    if not isinstance(x, Tensor) or x.dim() != 2 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x must be a real tensor of rows (N, D), got {shape}")
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be an int >= 1, got {latent_dim!r}")
    if not isinstance(n_neighbors, int) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be an int >= 1, got {n_neighbors!r}")
    if not isinstance(landmarks, int) or landmarks <= n_neighbors:
        raise ValueError(f"landmarks must be an int > n_neighbors, got {landmarks!r}")
    rows = x.detach().cpu().double().numpy()
    iso = Isomap(n_neighbors=n_neighbors, n_components=latent_dim).fit(rows[:landmarks])
    code = torch.as_tensor(iso.transform(rows), dtype=x.dtype, device=x.device)  # (N, L)
    code = code - code.mean(0)
    return code / code.std(0)


def _activation(name: str) -> type[nn.Module]:
    if name in _ACTIVATIONS:
        return _ACTIVATIONS[name]
    else:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}")


class GaussianEncoder(nn.Module):
    """q(z | x, y) = N(μ, diag σ²) with [μ, σ̃] = MLP(x, y) and σ = softplus(σ̃) + min_scale."""

    def __init__(
        self,
        n_in: int,
        latent_dim: int,
        hidden: Sequence[int],
        *,
        activation: type[nn.Module],
        context_size: int = 0,
        conditioning="concat",
        min_scale: float = 1e-4,
    ):
        super().__init__()
        self.latent_dim, self.min_scale = latent_dim, min_scale
        self.net = MLP(
            n_in,
            2 * latent_dim,
            hidden,
            activation=activation,
            context_size=context_size,
            conditioning=conditioning,
        )

    def params(self, x: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor]:
        """μ and σ, each (B, L), for flat x (B, D)."""
        loc, raw = self.net(x, c).chunk(2, dim=-1)  # (B, L) each
        return loc, nn.functional.softplus(raw) + self.min_scale

    def forward(self, x: Tensor, c: Tensor | None = None) -> Distribution:
        loc, scale = self.params(x, c)
        return Independent(Normal(loc, scale, validate_args=False), 1)  # batch (B,), event (L,)


class Decoder(nn.Module):
    """p(x | z, y): a Bernoulli with logits MLP(z, y), or a Gaussian with mean MLP(z, y) and the
    standard deviation the ``likelihood`` names (see :data:`LIKELIHOODS`). z may carry extra
    batch dimensions, (B, *, L) → batch (B, *), event ``event_shape``."""

    def __init__(
        self,
        latent_dim: int,
        event_shape: tuple[int, ...],
        hidden: Sequence[int],
        *,
        activation: type[nn.Module],
        likelihood: str = "bernoulli",
        scale: float = 1.0,
        context_size: int = 0,
        conditioning="concat",
        min_scale: float = 1e-4,
    ):
        super().__init__()
        self.event_shape, self.likelihood, self.min_scale = event_shape, likelihood, min_scale
        D = prod(event_shape)
        self.features = D
        outputs = 2 * D if likelihood == "gaussian-amortized" else D
        self.net = MLP(
            latent_dim,
            outputs,
            hidden,
            activation=activation,
            context_size=context_size,
            conditioning=conditioning,
        )
        # softplus⁻¹(scale − min_scale): the learned scales start at ``scale``
        raw = math.log(math.expm1(max(scale - min_scale, 1e-6)))
        if likelihood in ("bernoulli", "gaussian-amortized"):
            pass
        elif likelihood == "gaussian-fixed":
            self.register_buffer("scale", torch.tensor(float(scale)))
        elif likelihood == "gaussian-learned":
            self.raw_scale = nn.Parameter(torch.tensor(raw))
        elif likelihood == "gaussian-per-dim":
            self.raw_scale = nn.Parameter(torch.full((D,), raw))
        else:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")

    def _event(self, flat: Tensor) -> Tensor:
        return flat.reshape(*flat.shape[:-1], *self.event_shape)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Distribution:
        out = self.net(z, c)  # (B, *, D) or (B, *, 2D)
        n = len(self.event_shape)
        if self.likelihood == "bernoulli":
            return Independent(Bernoulli(logits=self._event(out), validate_args=False), n)
        if self.likelihood == "gaussian-amortized":
            loc, raw = out.chunk(2, dim=-1)
            scale = nn.functional.softplus(raw) + self.min_scale
        else:
            loc = out
            if self.likelihood == "gaussian-fixed":
                scale = self.scale
            else:
                scale = nn.functional.softplus(self.raw_scale) + self.min_scale
            scale = scale.expand_as(loc)
        return Independent(Normal(self._event(loc), self._event(scale), validate_args=False), n)

    def mean(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """E[x | z, y], shape (B, *event_shape)."""
        return self(z, c).mean

    def draw(self, z: Tensor, c: Tensor | None, generator: torch.Generator | None) -> Tensor:
        """x ~ p(x | z, y) from ``generator``."""
        base = self(z, c).base_dist
        if isinstance(base, Bernoulli):
            return torch.bernoulli(base.probs, generator=generator)
        eps = torch.randn(base.loc.shape, generator=generator, dtype=base.loc.dtype)
        return base.loc + base.scale * eps.to(base.loc.device)


class VAE(GenerativeModel, paradigm="vae"):
    """A variational autoencoder with latent z ∈ R^L (``latent_dim``), encoder and decoder MLPs
    with ``hidden`` layers.

    ``likelihood``: one of :data:`LIKELIHOODS` ("bernoulli" for binary x; "gaussian-*" for real
    x, with ``scale`` the fixed or initial standard deviation). ``objective``: "elbo" or "iwae"
    (the k-sample bound, ``k`` importance samples). ``conditioning``: how y enters both networks
    ("concat", "film" or "attention").

    >>> vae = VAE(8, latent_dim=2, hidden=[16])
    >>> vae.elbo(torch.ones(3, 8)).shape
    torch.Size([3])
    """

    bounds = ("elbo", "iwae")

    def __init__(
        self,
        event_shape: tuple[int, ...] | int,
        latent_dim: int = 2,
        hidden: Sequence[int] = (64, 64),
        *,
        likelihood: str = "bernoulli",
        scale: float = 1.0,
        activation: str = "relu",
        objective: str = "elbo",
        k: int = 1,
        num_classes: int | None = None,
        context_size: int | None = None,
        conditioning: str = "concat",
    ):
        super().__init__(event_shape, num_classes=num_classes, context_size=context_size)
        latent_dim = check_int("latent_dim", latent_dim, low=1)
        hidden = tuple(hidden)
        if any(not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be a sequence of positive ints, got {hidden!r}")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        if not isinstance(scale, int | float) or not scale > 0:
            raise ValueError(f"scale must be a number > 0, got {scale!r}")
        if objective not in ("elbo", "iwae"):
            raise ValueError(f"objective must be 'elbo' or 'iwae', got {objective!r}")
        k = check_int("k", k, low=1)
        if not isinstance(conditioning, str):
            raise ValueError(
                f"conditioning must be 'concat', 'film' or 'attention', got {conditioning!r}"
            )
        cond = as_conditioning(conditioning)  # checks the name
        act = _activation(activation)
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.likelihood = likelihood
        self.scale = scale
        self.activation = activation
        self.objective = objective
        self.k = k
        self.conditioning = conditioning
        C = self.context_features
        D = prod(self.event_shape)
        self.encoder = GaussianEncoder(
            D, latent_dim, hidden, activation=act, context_size=C, conditioning=cond
        )
        self.decoder = Decoder(
            latent_dim,
            self.event_shape,
            tuple(reversed(hidden)),
            activation=act,
            likelihood=likelihood,
            scale=float(scale),
            context_size=C,
            conditioning=cond,
        )
        self._networks: dict[str, BayesNet] = {}  # built on first use, sharing the modules

    # ------------------------------------------------------------------ the two networks
    def prior(self) -> Distribution:
        """p(z) = N(0, I_L), batch ()."""
        zeros = torch.zeros(self.latent_dim, device=self.device, dtype=self.dtype)
        return Independent(Normal(zeros, torch.ones_like(zeros), validate_args=False), 1)

    def _flat(self, x: Tensor) -> Tensor:
        return x.reshape(len(x), -1)  # (B, D)

    def _check_binary(self, x: Tensor) -> Tensor:
        """x checked to be 0/1 where the decoder is Bernoulli (its density needs it; the encoder
        accepts any x, e.g. grey levels)."""
        if self.likelihood == "bernoulli":
            bad = ~((x == 0) | (x == 1)).reshape(len(x), -1).all(1)
            if bad.any():
                raise ValueError(
                    f"x must be binary (0/1) for a Bernoulli decoder; row {int(bad.nonzero()[0])}"
                    " is not"
                )
        return x

    def _terms(
        self,
        x: Tensor,
        y: Tensor | None,
        k: int,
        generator: torch.Generator | None,
        *,
        ratio: bool = True,
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        """For k draws z ~ q(z | x): log p(x | z) (B, k), log p(z) − log q(z | x) (B, k) (None
        without ``ratio``), and the analytic KL(q ‖ p) (B,)."""
        x = self._check_binary(self.check_x(x))
        B = len(x)
        c = self.context(y, B)
        q = self.encoder(self._flat(x), c)
        loc, scale = q.base_dist.loc[:, None], q.base_dist.scale[:, None]  # (B, 1, L)
        eps = torch.randn((B, k, self.latent_dim), generator=generator, dtype=x.dtype)
        z = loc + scale * eps.to(x.device)  # (B, k, L)
        rec = self.decoder(z, c).log_prob(x[:, None])  # (B, k)
        kl = kl_divergence(q, self.prior())  # (B,)
        if not ratio:
            return rec, None, kl
        lpz = self.prior().log_prob(z)  # (B, k)
        lqz = Independent(Normal(loc, scale, validate_args=False), 1).log_prob(z)  # (B, k)
        return rec, lpz - lqz, kl

    def elbo(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """E_q[log p(x | z)] − KL(q(z | x) ‖ p(z)) per row (B,), one reparameterised draw."""
        rec, _, kl = self._terms(x, y, 1, generator, ratio=False)
        return rec[:, 0] - kl

    def iwae(
        self,
        x: Tensor,
        y: Tensor | None = None,
        k: int | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """log (1/k) Σ_i p(x, z_i) / q(z_i | x), z_i ~ q(z | x), per row (B,); k defaults to the
        model's ``k``."""
        k = self.k if k is None else k
        k = check_int("k", k, low=1)
        rec, log_ratio, _ = self._terms(x, y, k, generator)
        return torch.logsumexp(rec + log_ratio, dim=1) - math.log(k)

    @torch.no_grad()
    def log_prob_is(
        self,
        x: Tensor,
        y: Tensor | None = None,
        k: int = 5000,
        *,
        chunk: int = 500,
        generator: torch.Generator | None = None,
        return_se: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """The importance-sampling estimate of log p(x | y), log (1/k) Σ_i w_i, per row (B,),
        computed ``chunk`` draws at a time (memory O(B · chunk)). With ``return_se`` also its
        delta-method standard error √((mean w² / (mean w)² − 1) / k)."""
        k = check_int("k", k, low=1)
        chunk = check_int("chunk", chunk, low=1)
        lse1, lse2 = [], []
        for start in range(0, k, chunk):  # chunks of draws, not rows
            rec, log_ratio, _ = self._terms(x, y, min(chunk, k - start), generator)
            log_w = rec + log_ratio  # (B, chunk)
            lse1.append(torch.logsumexp(log_w, 1))
            lse2.append(torch.logsumexp(2 * log_w, 1))
        log_mean = torch.logsumexp(torch.stack(lse1, 1), 1) - math.log(k)  # (B,)
        if not return_se:
            return log_mean
        log_mean2 = torch.logsumexp(torch.stack(lse2, 1), 1) - math.log(k)
        rel_var = torch.expm1((log_mean2 - 2 * log_mean).clamp(min=0))
        return log_mean, (rel_var / k).sqrt()

    # ------------------------------------------------------------------ the verbs
    def loss(self, x: Tensor, y: Tensor | None = None, *, group: str | None = None) -> Tensor:
        """−ELBO or −IWAE_k averaged over the batch (nats per row)."""
        if group not in (None, "model"):
            raise ValueError(f"group must be None or 'model', got {group!r}")
        if self.objective == "iwae":
            return -self.iwae(x, y).mean()
        return -self.elbo(x, y).mean()

    def metrics(self, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        """The loss, the ELBO, its two terms (reconstruction and KL), and IWAE_k."""
        with torch.no_grad():
            rec, log_ratio, kl = self._terms(x, y, max(self.k, 1), None)
            out = {
                "elbo": (rec[:, 0] - kl).mean(),
                "reconstruction": rec.mean(),
                "kl": kl.mean(),
                "iwae": (torch.logsumexp(rec + log_ratio, 1) - math.log(rec.shape[1])).mean(),
            }
            out["loss"] = -out["iwae"] if self.objective == "iwae" else -out["elbo"]
        return out

    def sample(
        self, n: int, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """z ~ N(0, I), x ~ p(x | z, y): (n, *event_shape)."""
        n = check_int("n", n, low=1)
        c = self.context(y, n)
        with torch.no_grad():
            z = torch.randn((n, self.latent_dim), generator=generator, dtype=self.dtype)
            return self.decoder.draw(z.to(self.device), c, generator)

    def encode(
        self,
        x: Tensor,
        y: Tensor | None = None,
        *,
        sample: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The posterior mean μ(x, y) (B, L), or a draw z ~ q(z | x, y) with ``sample=True``."""
        x = self.check_x(x)
        loc, scale = self.encoder.params(self._flat(x), self.context(y, len(x)))
        if not sample:
            return loc
        eps = torch.randn(loc.shape, generator=generator, dtype=loc.dtype).to(loc.device)
        return loc + scale * eps

    def decode(
        self,
        z: Tensor,
        y: Tensor | None = None,
        *,
        mean: bool = True,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """E[x | z, y] (B, *event_shape) (pixel probabilities for a Bernoulli decoder), or a draw
        x ~ p(x | z, y) with ``mean=False``."""
        z = torch.as_tensor(z, device=self.device, dtype=self.dtype)
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        c = self.context(y, len(z))
        return self.decoder.mean(z, c) if mean else self.decoder.draw(z, c, generator)

    def pretrain_code(
        self,
        x: Tensor,
        code: Tensor,
        y: Tensor | None = None,
        *,
        steps: int = 1000,
        lr: float = 3e-3,
        batch_size: int = 256,
        seed: int = 0,
    ) -> float:
        """Initialize both networks from a given code (N, L) of the rows x (e.g.
        :func:`spectral_code`): the one training loop on minibatches of the autoencoder's squared
        errors with the code fixed, mean ‖μ(x, y) − code‖² + mean ‖E[x | code, y] − x‖². Returns
        the last loss. ELBO training afterwards starts in the basin of that code."""
        from ..data.source import TensorData
        from ..train import TrainConfig, train

        x = self.check_x(x)
        code = torch.as_tensor(code, device=self.device, dtype=self.dtype)
        if code.shape != (len(x), self.latent_dim):
            raise ValueError(
                f"code must have shape ({len(x)}, {self.latent_dim}), got {tuple(code.shape)}"
            )
        check_int("steps", steps, low=1)
        check_int("batch_size", batch_size, low=1)
        fit = _CodeFit(self, code, y)
        rows = torch.arange(len(x), device=x.device)  # each batch's y: its rows' indices
        config = TrainConfig(
            steps=steps, batch_size=batch_size, lr=lr, seed=seed, schedule="constant"
        )
        history = train(fit, TensorData(x, rows), config=config)
        return float(history.last["loss"])

    # ------------------------------------------------------------------ the network view
    def _build(self) -> dict[str, BayesNet]:
        if not self._networks:
            z = Continuous("z", self.latent_dim)
            x = Continuous("x", self.event_shape)
            p = BayesNet([StandardNormal(z), ModuleFactor(x, [z], self.decoder)])
            q = BayesNet([Flat(x), ModuleFactor(z, [x], self.encoder)])
            p.name, q.name = "p: z → x (decoder)", "q: x → z (encoder)"
            self._networks.update(p=p, q=q)
        return self._networks

    @property
    def network(self) -> BayesNet:
        """p(z, x | y) = N(z; 0, I) p(x | z, y), its decoder factor sharing the model's decoder."""
        return self._build()["p"]

    @property
    def networks(self) -> dict[str, BayesNet]:
        """Figure 9: the generative network p (z → x) and the inference network q (x → z)."""
        return dict(self._build())

    def joint(
        self, x: Tensor, y: Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> tuple[dict[str, Tensor], Tensor]:
        """z ~ q(z | x, y) and log p(z) + log p(x | z, y) (B,)."""
        x = self._check_binary(self.check_x(x))
        z = self.encode(x, y, sample=True, generator=generator)  # (B, L)
        c = self.context(y, len(x))
        return {"z": z, "x": x}, self.prior().log_prob(z) + self.decoder(z, c).log_prob(x)

    def observation(self, values: Mapping[str, Tensor]) -> Tensor:
        return values["x"]

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, latent_dim={self.latent_dim}, likelihood="
            f"{self.likelihood!r}, objective={self.objective!r}"
        )


class _CodeFit(nn.Module):
    """The VAE's encoder mean and decoder mean fitted to a fixed code, as a model of the training
    loop: the batch's y are its rows' indices into the code (and the labels)."""

    def __init__(self, vae: VAE, code: Tensor, labels: Tensor | None):
        super().__init__()
        self.vae, self.code, self.labels = vae, code, labels

    def loss(self, x: Tensor, rows: Tensor, *, group: str | None = None) -> Tensor:
        y = None if self.labels is None else self.labels[rows]
        c = self.code[rows]  # (B, L)
        enc = (self.vae.encode(x, y) - c).pow(2).sum(-1).mean()
        dec = (self.vae.decode(c, y) - x).pow(2).reshape(len(x), -1).sum(-1).mean()
        return enc + dec
