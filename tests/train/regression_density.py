"""A small real model for the training-loop tests: the regression density p(x | y) = N(x; μ(y),
diag σ(y)²), one neural Normal factor whose MLP reads the features y, as a GenerativeModel.

Also a script: ``python regression_density.py RUN STEPS [--resume] [--ddp]`` trains it on fixed
synthetic data (the kill-and-resume and torchrun tests start it as a subprocess) and writes the
final parameters to RUN/final.safetensors.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

if __name__ == "__main__":  # run as a script: the library beside the tests
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from bayesgen.data.source import TensorData
from bayesgen.factors.neural import NeuralNormal
from bayesgen.generative.base import GenerativeModel
from bayesgen.network import BayesNet
from bayesgen.train import TrainConfig, train
from bayesgen.train.distributed import shutdown
from bayesgen.variables import Continuous

__all__ = ["RegressionDensity", "regression_data", "model", "config"]


class RegressionDensity(GenerativeModel):
    """x (D,) given features y (C,): log p(x | y) = Σ_d log N(x_d; μ_d(y), σ_d(y)).
    (Not registered: the paradigm registry stays the library's.)"""

    paradigm = "regression_density"
    exact_likelihood = True

    def __init__(self, event_shape=2, *, context_size: int = 3, hidden: int = 8, groups: int = 1):
        super().__init__(event_shape, context_size=context_size)
        self.hidden, self.groups = hidden, groups
        x = Continuous("x", shape=self.event_shape)
        self.factor = NeuralNormal(x, context_size=context_size, hidden=(hidden,))

    @property
    def network(self) -> BayesNet:
        return BayesNet([self.factor])  # shares the factor's parameters

    def log_prob(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        x = self.check_x(x)
        return self.factor({}, self.context(y, len(x))).log_prob(x)  # (B,)

    def loss(self, x: Tensor, y: Tensor | None = None, *, group: str | None = None) -> Tensor:
        return -self.log_prob(x, y).mean()

    def sample(self, n: int, y=None, *, generator=None) -> Tensor:
        c = self.context(y, n)
        with torch.no_grad():
            d = self.factor({}, c)
            eps = torch.randn(d.mean.shape, generator=generator, dtype=d.mean.dtype)
            return d.mean + d.stddev * eps

    def joint(self, x, y=None, *, generator=None):
        x = self.check_x(x)
        return {"x": x}, self.log_prob(x, y)

    def observation(self, values: Mapping[str, Tensor]) -> Tensor:
        return values["x"]

    def parameter_groups(self) -> dict[str, list]:
        """One group, or two (the first layer, the rest) to test groups stepped in turn."""
        params = [p for p in self.parameters() if p.requires_grad]
        if self.groups == 1:
            return {"model": params}
        return {"first": params[:2], "rest": params[2:]}


def regression_data(n: int = 96, seed: int = 0) -> TensorData:
    """x = (sin y₀ + y₁, y₂²) + noise, y ~ N(0, I₃)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(n, 3, generator=g)
    mean = torch.stack([torch.sin(y[:, 0]) + y[:, 1], y[:, 2] ** 2], 1)  # (n, 2)
    return TensorData(mean + 0.3 * torch.randn(n, 2, generator=g), y)


def model(seed: int = 0, **kwargs) -> RegressionDensity:
    torch.manual_seed(seed)
    return RegressionDensity(**kwargs)


def config(run: Path | None, steps: int, epochs: int | None = None) -> TrainConfig:
    """The run of the subprocess tests: Adam with warm-up and cosine decay, an EMA, a
    checkpoint every 10 steps (``epochs``: passes over the data instead of ``steps``)."""
    return TrainConfig(
        steps=None if epochs else steps,
        epochs=epochs,
        batch_size=16,
        lr=0.01,
        seed=3,
        warmup=5,
        ema=0.9,
        checkpoint_every=10,
        eval_every=1,
        out=None if run is None else str(run),
    )


def main(argv: list[str]) -> None:
    """Train (``--slow``: 20 ms pause per step, so a test can kill it mid-run; ``--epochs``:
    STEPS is a number of epochs over 97 rows, whose last batch has one row), then write the
    final parameters to RUN/final.safetensors."""
    import os
    import time

    from safetensors.torch import save_file

    torch.set_num_threads(1)
    run, steps = Path(argv[0]), int(argv[1])
    resume = run if "--resume" in argv else None
    m = model(0)
    pause = (lambda record: time.sleep(0.02)) if "--slow" in argv else None
    val = regression_data(30, seed=4)  # 30 rows: 15 per rank under torchrun
    epochs = steps if "--epochs" in argv else None
    data = regression_data(97 if epochs else 96)
    train(m, data, val, config=config(run, steps, epochs), resume=resume, on_eval=pause)
    if int(os.environ.get("RANK", "0")) == 0:
        state = {k: v.contiguous() for k, v in m.state_dict().items()}
        save_file(state, str(run / "final.safetensors"))
    shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
