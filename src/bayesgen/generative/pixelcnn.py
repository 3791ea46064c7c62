"""PixelCNN (van den Oord et al., 2016): masked convolutions over a binary image in raster order.

A masked k×k convolution sees, around pixel (i, j), only the pixels above it and those to its
left on its row; the first layer (mask A) also hides the centre pixel, the next ones (mask B)
let it through (it then carries only the past). Stacked, output (i, j) is a function of pixels
before (i, j) in raster order, so with a Bernoulli per pixel

    p(x) = Π_t Bernoulli(x_t; σ(f_t(x_<t))),

and the parents of pixel t in the network are exactly the pixels of its receptive field:
:meth:`PixelCNNNet.dependency` propagates the masks' supports layer by layer (a fixed
receptive field, with the well-known blind spot to the upper right).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["MaskedConv2d", "PixelCNNNet", "causal_mask"]


def causal_mask(kernel: int, kind: str) -> Tensor:
    """The (k, k) 0/1 mask: rows above the centre, and the centre row left of the centre
    (``kind="A"``) or up to and including it (``kind="B"``)."""
    if kind not in ("A", "B"):
        raise ValueError(f"kind must be 'A' or 'B', got {kind!r}")
    if not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be an odd int >= 1, got {kernel!r}")
    m = torch.zeros(kernel, kernel)
    c = kernel // 2
    m[:c] = 1
    m[c, : c + (kind == "B")] = 1
    return m


class MaskedConv2d(nn.Conv2d):
    """A same-padded convolution whose weight is multiplied by a causal mask (a buffer)."""

    def __init__(self, n_in: int, n_out: int, kernel: int, kind: str):
        super().__init__(n_in, n_out, kernel, padding=kernel // 2)
        self.register_buffer("mask", causal_mask(kernel, kind)[None, None])  # (1, 1, k, k)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class _ResidualBlock(nn.Module):
    """h + 1×1(ReLU(masked k×k B(ReLU(1×1(ReLU h))))) [+ a per-channel shift from y]."""

    def __init__(self, channels: int, kernel: int, context_size: int):
        super().__init__()
        half = channels // 2
        self.reduce = nn.Conv2d(channels, half, 1)
        self.conv = MaskedConv2d(half, half, kernel, "B")
        self.expand = nn.Conv2d(half, channels, 1)
        self.cond = nn.Linear(context_size, half) if context_size else None

    def forward(self, h: Tensor, c: Tensor | None) -> Tensor:
        z = self.reduce(F.relu(h))  # (B, C/2, H, W)
        if self.cond is not None:
            z = z + self.cond(c)[:, :, None, None]
        z = self.conv(F.relu(z))
        return h + self.expand(F.relu(z))  # (B, C, H, W)


class PixelCNNNet(nn.Module):
    """Binary images (B, H·W) in raster order → one logit per pixel (B, H·W, 1).

    Layers: a k₀×k₀ mask-A convolution, ``n_layers`` residual blocks with k×k mask-B
    convolutions, two 1×1 output convolutions. A context y (B, C) shifts every block's
    features (a conditional bias, eq. 19).
    """

    def __init__(
        self,
        height: int,
        width: int,
        *,
        channels: int = 64,
        n_layers: int = 5,
        kernel: int = 3,
        first_kernel: int = 7,
        context_size: int = 0,
    ):
        super().__init__()
        self.height, self.width, self.context_size = height, width, context_size
        self.first = MaskedConv2d(1, channels, first_kernel, "A")
        self.first_cond = nn.Linear(context_size, channels) if context_size else None
        self.blocks = nn.ModuleList(
            _ResidualBlock(channels, kernel, context_size) for _ in range(n_layers)
        )
        self.out = nn.Sequential(
            nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1)
        )

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        if self.context_size and c is None:
            raise ValueError(f"this PixelCNN needs a context of size {self.context_size}")
        B = x.shape[0]
        img = x.to(self.first.weight.dtype).reshape(B, 1, self.height, self.width)
        h = self.first(2 * img - 1)  # (B, C, H, W), pixels as ±1
        if self.first_cond is not None:
            h = h + self.first_cond(c.to(h.dtype))[:, :, None, None]
        for block in self.blocks:
            h = block(h, None if c is None else c.to(h.dtype))
        return self.out(h).reshape(B, -1, 1)  # (B, H·W, 1)

    def dependency(self, T: int | None = None) -> Tensor:
        """D (T, T) bool: D[t, s] is True where output t reads input pixel s, propagated through
        the masks' supports (first layer, then each block's masked convolution; 1×1
        convolutions and residual sums keep or join the supports)."""
        T = self.height * self.width
        reach = torch.eye(T, device=self.first.mask.device).reshape(T, 1, self.height, self.width)

        def spread(r: Tensor, conv: MaskedConv2d) -> Tensor:
            return F.conv2d(r, conv.mask, padding=conv.padding) > 0

        h = spread(reach, self.first).float()  # (T inputs, 1, H, W): outputs each input reaches
        for block in self.blocks:
            h = (h + spread(h, block.conv).float()).clamp(max=1)
        return h.reshape(T, T).T.bool()  # (outputs, inputs)
