"""Training curves: any metric history, and figure 18 of the chapter (the learning-rate sweep).

Figure 18: for each learning rate, the mean negative log-likelihood per iteration against the
value at the true parameter (left), and the learned r per iteration against the true r (right).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ._mpl import pyplot, save

__all__ = ["plot_training_curves", "plot_learning_rate_sweep"]


def plot_training_curves(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str] | None = None,
    ax=None,
    *,
    reference: Mapping[str, float] | None = None,
    path: str | Path | None = None,
    title: str | None = None,
):
    """Plot metric histories (e.g. ``Trainer.history_``: ``loss``, ``val_loss``, tracked values)
    against the epoch on one Axes, with optional dashed reference levels per key. Returns the
    Axes; with ``path`` the figure is also saved."""
    keys = list(history) if keys is None else list(keys)
    unknown = [k for k in keys if k not in history]
    if unknown:
        raise ValueError(f"history has no {unknown}; it has {list(history)}")
    if not keys:
        raise ValueError("nothing to plot: history is empty")
    plt = pyplot(path if ax is None else None)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for k in keys:
        line = ax.plot(range(len(history[k])), list(history[k]), label=k)[0]
        if reference and k in reference:
            ax.axhline(
                reference[k], ls="--", color=line.get_color(), alpha=0.7, label=f"{k} (reference)"
            )
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    save(ax.figure, path, dpi=120)
    return ax


def plot_learning_rate_sweep(
    sweep: Mapping[float, Mapping[str, Sequence[float]]],
    *,
    true_nll: float,
    true_value: float,
    parameter: str = "r",
    path: str | Path | None = None,
):
    """Figure 18: one row per learning rate, the training NLL against ``true_nll`` (left) and
    the parameter's curve against ``true_value`` (right). ``sweep`` maps a learning rate to a
    history with ``loss`` and ``parameter`` (as returned by
    :func:`bayesgen.learning.neural_mixture.learning_rate_sweep`). Returns the Figure."""
    if not sweep:
        raise ValueError("sweep is empty: no learning rate to draw")
    for lr, h in sweep.items():
        if "loss" not in h or parameter not in h:
            raise ValueError(
                f"the history for lr={lr} needs 'loss' and {parameter!r}; it has {list(h)}"
            )
    plt = pyplot(path)
    n = len(sweep)
    fig, axes = plt.subplots(n, 2, figsize=(12, 3.2 * n), squeeze=False)
    for i, (lr, h) in enumerate(sweep.items()):
        left, right = axes[i]
        left.axhline(true_nll, ls="--", color="r", alpha=0.7, label="true parameter")
        left.plot(h["loss"], label="training")
        left.set_xlabel("iteration")
        left.set_ylabel("−log p(x) / |D|")
        left.set_title(f"normalized negative log-likelihood (lr={lr:g})")
        left.grid(alpha=0.3)
        left.legend()
        right.axhline(true_value, ls="--", color="r", alpha=0.7, label="true value")
        right.plot(h[parameter], label="training")
        right.set_xlabel("iteration")
        right.set_ylabel(parameter)
        right.set_title(f"predicted {parameter} (lr={lr:g})")
        right.grid(alpha=0.3)
        right.legend()
    fig.tight_layout()
    return save(fig, path)
