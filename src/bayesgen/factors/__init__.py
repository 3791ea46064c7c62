"""Conditional factors p(x_n | Pa(x_n)): modules that map parent values to a Distribution."""

from .base import Factor
from .categorical import ExactCategorical
from .flow import FlowFactor, FlowStep, PushForward
from .gaussian import Gaussian, LinearGaussian
from .latent import Flat, ModuleFactor, StandardNormal
from .neural import NeuralBernoulli, NeuralCategorical, NeuralFactor, NeuralNormal
from .table import Table

__all__ = [
    "Factor",
    "Table",
    "ExactCategorical",
    "Gaussian",
    "LinearGaussian",
    "NeuralFactor",
    "NeuralBernoulli",
    "NeuralCategorical",
    "NeuralNormal",
    "StandardNormal",
    "ModuleFactor",
    "Flat",
    "FlowFactor",
    "FlowStep",
    "PushForward",
]
