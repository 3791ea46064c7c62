"""The training configuration the generative tests share: plain Adam at a constant rate."""

from __future__ import annotations

from bayesgen.train import TrainConfig

__all__ = ["adam"]


def adam(steps: int, *, lr: float, batch_size: int = 128, seed: int = 0) -> TrainConfig:
    """``steps`` Adam steps at the constant rate ``lr`` on minibatches of ``batch_size`` rows
    drawn with ``seed`` (what the tests' hand-written loops did before the library had one)."""
    return TrainConfig(steps=steps, batch_size=batch_size, lr=lr, schedule="constant", seed=seed)
