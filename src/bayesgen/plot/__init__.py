"""Figures drawn from live objects: DAGs, densities, samples and training curves (matplotlib)."""

from .dag import draw_dag
from .flow import plot_flow, plot_flow_density
from .info import plot_kl_fits
from .kde import plot_kde_1d, plot_kde_2d
from .learning import plot_learning_rate_sweep, plot_training_curves
from .mixture import plot_mixture_density

__all__ = [
    "draw_dag",
    "plot_flow",
    "plot_flow_density",
    "plot_kde_1d",
    "plot_kde_2d",
    "plot_kl_fits",
    "plot_learning_rate_sweep",
    "plot_mixture_density",
    "plot_training_curves",
]
