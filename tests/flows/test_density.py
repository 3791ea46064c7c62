"""A trained 2-D flow is a density: it integrates to 1 on a fine grid, and its samples follow it."""

from __future__ import annotations

import pytest
import torch

from bayesgen.generative import Flow

H, HALF = 0.02, 5.0  # grid step and half-width of the square [−5, 5]²


def _moons(n: int, seed: int) -> torch.Tensor:
    from sklearn.datasets import make_moons

    x, _ = make_moons(n, noise=0.1, random_state=seed)
    return torch.as_tensor(x, dtype=torch.float32)


def _model() -> Flow:
    return Flow(2, transform="nsf", layers=2, hidden=(32, 32), bins=6, bound=3.0)


@pytest.fixture(scope="module")
def trained() -> Flow:
    torch.manual_seed(0)
    data = _moons(2048, 0)
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(100):
        batch = data[torch.randint(len(data), (256,), generator=g)]
        opt.zero_grad()
        model.loss(batch).backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def grid_log_prob(trained) -> torch.Tensor:
    """log p at the midpoints of a grid of step H over [−5, 5]² (250,000 points)."""
    ticks = torch.arange(-HALF + H / 2, HALF, H)
    with torch.no_grad():
        return trained.log_prob(torch.cartesian_prod(ticks, ticks)).double()


def test_training_lowers_the_held_out_nll(trained):
    test = _moons(1000, 1)
    torch.manual_seed(0)
    with torch.no_grad():
        nll, before = -trained.log_prob(test).mean(), -_model().log_prob(test).mean()
    assert nll < before - 1.0, (float(nll), float(before))


def test_density_integrates_to_one(grid_log_prob):
    mass = grid_log_prob.exp().sum() * H * H
    assert abs(float(mass) - 1) < 1e-3


def test_samples_follow_the_density(trained, grid_log_prob):
    """The NLL of the model's own samples estimates its entropy, as does −Σ p log p over the
    grid; the two agree within four Monte Carlo standard errors (plus the grid's error)."""
    with torch.no_grad():
        s = trained.sample(4000, generator=torch.Generator().manual_seed(3))
        lp = trained.log_prob(s).double()
    entropy_grid = -(grid_log_prob.exp() * grid_log_prob).sum() * H * H
    se = lp.std() / len(lp) ** 0.5
    assert abs(float(-lp.mean() - entropy_grid)) < 4 * float(se) + 0.01
