"""The denoiser of a diffusion model: one network f_θ(z_t, t, c) shared over every step t."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..nn import MLP, SinusoidalEmbedding

__all__ = ["Denoiser"]


class Denoiser(nn.Module):
    """f_θ(z_t, t, c): z (B, D), t (B,) real, context c (B, C) or None → (B, D).

    The time enters as a sinusoidal embedding e(t), by ``time_conditioning``: ``"concat"``
    appends e(t) to z at the input; ``"film"`` modulates every hidden layer,
    h ← (1 + γ(e)) ⊙ h + β(e) (Perez et al., 2018), as the time embedding of a U-Net does. The
    context c enters as ``conditioning`` says; with FiLM time it is appended to z ('concat') or
    joins e(t) in the modulation ('film')."""

    def __init__(
        self,
        features: int,
        hidden: Sequence[int] = (128, 128, 128),
        *,
        embedding: int = 32,
        context_size: int = 0,
        conditioning: str = "concat",
        time_conditioning: str = "concat",
    ):
        super().__init__()
        self.embed = SinusoidalEmbedding(embedding)
        self.time_conditioning, self.context_size = time_conditioning, context_size
        if time_conditioning == "concat":
            n_in, n_film, kind = features + embedding, context_size, conditioning
        elif time_conditioning == "film":
            if conditioning not in ("concat", "film"):
                raise ValueError(
                    "time_conditioning='film' combines with conditioning 'concat' or 'film', "
                    f"got {conditioning!r}"
                )
            self.context_first = conditioning == "concat"  # c at the input, e(t) modulates
            n_in = features + (context_size if self.context_first else 0)
            n_film = embedding + (0 if self.context_first else context_size)
            kind = "film"
        else:
            raise ValueError(
                f"time_conditioning must be 'concat' or 'film', got {time_conditioning!r}"
            )
        self.net = MLP(
            n_in, features, hidden, activation=nn.SiLU, context_size=n_film, conditioning=kind
        )

    def forward(self, z: Tensor, t: Tensor, context: Tensor | None = None) -> Tensor:
        e = self.embed(t).to(z.dtype)  # (B, E)
        if self.time_conditioning == "concat":
            return self.net(torch.cat([z, e], dim=-1), context)  # input (B, D + E)
        if not self.context_size:
            return self.net(z, e)
        if context is None:
            raise ValueError(f"this denoiser needs a context of size {self.context_size}")
        context = context.to(z.dtype)
        if self.context_first:
            return self.net(torch.cat([z, context], dim=-1), e)  # input (B, D + C)
        return self.net(z, torch.cat([e, context], dim=-1))  # modulation by (B, E + C)
