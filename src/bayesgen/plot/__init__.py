"""Figures drawn from live objects: DAGs, densities, samples and training curves (matplotlib)."""

from .dag import draw_dag
from .diffusion import draw_diffusion_networks, plot_diffusion_snapshots
from .energy import draw_mrf, plot_langevin
from .flow import plot_flow, plot_flow_density
from .info import plot_kl_fits
from .kde import plot_kde_1d, plot_kde_2d
from .learning import plot_learning_rate_sweep, plot_training_curves
from .mixture import plot_density_histogram, plot_mixture_density
from .vae import plot_image_grid, plot_swiss_roll, plot_vae_networks

__all__ = [
    "draw_dag",
    "plot_density_histogram",
    "draw_diffusion_networks",
    "draw_mrf",
    "plot_diffusion_snapshots",
    "plot_flow",
    "plot_flow_density",
    "plot_kde_1d",
    "plot_kde_2d",
    "plot_kl_fits",
    "plot_langevin",
    "plot_learning_rate_sweep",
    "plot_mixture_density",
    "plot_training_curves",
    "plot_image_grid",
    "plot_swiss_roll",
    "plot_vae_networks",
]
