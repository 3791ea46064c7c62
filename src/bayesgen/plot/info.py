"""Figure 16 of the chapter: one Gaussian fitted to a bimodal target by forward and reverse KL."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.distributions import Distribution, Normal

__all__ = ["plot_kl_fits"]


def plot_kl_fits(
    target: Distribution,
    path: str | Path | None = None,
    axes=None,
    *,
    forward: Normal | None = None,
    reverse: Normal | None = None,
    x: torch.Tensor | None = None,
    n_points: int = 600,
):
    """Draw p (the 1-D target) with arg min_q KL(p, q) (left, mode covering) and
    arg min_q KL(q, p) (right, mode seeking).

    The fits are computed with :func:`bayesgen.info.fit_gaussian_forward_kl` and
    :func:`bayesgen.info.fit_gaussian_reverse_kl` unless given. ``axes`` is a pair of Axes (a new
    1×2 figure otherwise); ``x`` the grid of the curves (by default the forward fit's mean ± 4 sd
    and the reverse fit's mean ± 4 sd). Returns the two Axes; with ``path`` the figure is saved.
    """
    from ..info import fit_gaussian_forward_kl, fit_gaussian_reverse_kl

    if not isinstance(target, Distribution) or target.event_shape != torch.Size():
        raise ValueError(
            f"target must be a torch distribution over scalars (1-D), got {type(target).__name__}"
        )
    if target.batch_shape != torch.Size():
        raise ValueError(f"target must have batch shape (), got {tuple(target.batch_shape)}")
    import matplotlib

    if axes is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    forward = fit_gaussian_forward_kl(target) if forward is None else forward
    reverse = fit_gaussian_reverse_kl(target) if reverse is None else reverse
    for name, fit in (("forward", forward), ("reverse", reverse)):
        if not isinstance(fit, Normal) or fit.batch_shape != torch.Size():
            raise ValueError(f"{name} must be a scalar Normal, got {fit!r}")
    if x is None:
        lo = min(float(forward.loc - 4 * forward.scale), float(reverse.loc - 4 * reverse.scale))
        hi = max(float(forward.loc + 4 * forward.scale), float(reverse.loc + 4 * reverse.scale))
        x = torch.linspace(lo, hi, n_points, dtype=forward.loc.dtype)
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    else:
        if len(axes) != 2:
            raise ValueError(f"axes must be a pair of Axes, got {len(axes)}")
        fig = axes[0].figure
    with torch.no_grad():
        p = target.log_prob(x.to(target.mean.dtype)).exp()
        panels = (
            (forward, r"$\arg\min_q\, D_{KL}(p, q)$ (mode covering)", "tab:red"),
            (reverse, r"$\arg\min_q\, D_{KL}(q, p)$ (mode seeking)", "tab:green"),
        )
        for ax, (fit, title, color) in zip(axes, panels, strict=True):
            ax.plot(x.numpy(), p.numpy(), color="tab:blue", lw=2, label="p (target)")
            ax.fill_between(x.numpy(), p.numpy(), color="tab:blue", alpha=0.15)
            ax.plot(
                x.numpy(),
                fit.log_prob(x).exp().numpy(),
                color=color,
                lw=2,
                ls="--",
                label=f"q = N({float(fit.loc):.2f}, {float(fit.scale):.2f}²)",
            )
            ax.set_title(title)
            ax.set_xlabel("x")
            ax.legend(loc="upper right", fontsize=8)
    axes[0].set_ylabel("density")
    if path is not None:
        fig.savefig(path, bbox_inches="tight", dpi=120)
    return tuple(axes)
