"""Figures drawn from live objects: DAGs, densities, samples and training curves (matplotlib)."""

from .dag import draw_dag

__all__ = ["draw_dag"]
