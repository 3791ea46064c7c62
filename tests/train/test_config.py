"""The training config: the warm-up + cosine schedule against its formula, optimizers, checks,
JSON round trip."""

from __future__ import annotations

import math

import pytest
import torch
from regression_density import model, regression_data

from bayesgen.train import SGD, Adam, AdamW, Schedule, TrainConfig, make_optimizer, train


def test_warmup_then_cosine_is_the_formula_and_the_loop_uses_it():
    eta, w, total, floor = 0.1, 5, 20, 0.1
    m = model(0)
    cfg = TrainConfig(steps=total, batch_size=8, lr=eta, optimizer="sgd", warmup=w, min_lr=floor)
    history = train(m, regression_data(), config=cfg)
    used = [r["lr"] for r in history.records]  # the rate of step k = 1..T is f(k − 1)
    assert len(used) == total
    for k, lr in enumerate(used):
        if k < w:
            expected = eta * (k + 1) / w
        else:
            expected = eta * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (k - w) / 15)))
        assert lr == pytest.approx(expected, rel=1e-12), k
    assert used[w - 1] == pytest.approx(eta) and used[w] == pytest.approx(eta)
    # the last step is near the floor, the constant schedule stays at η after warm-up
    assert used[-1] == pytest.approx(
        eta * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * 14 / 15)))
    )
    flat = Schedule("constant", 3, 10)
    assert [flat(s) for s in range(5)] == pytest.approx([1 / 3, 2 / 3, 1, 1, 1])


def test_optimizer_names_and_options_build_torch_optimizers():
    p = [torch.nn.Parameter(torch.zeros(3))]
    assert isinstance(make_optimizer("adam", p, 0.1), torch.optim.Adam)
    opt = make_optimizer(AdamW(betas=(0.5, 0.9)), p, 0.1, weight_decay=0.01)
    assert isinstance(opt, torch.optim.AdamW)
    assert (
        opt.param_groups[0]["betas"] == (0.5, 0.9) and opt.param_groups[0]["weight_decay"] == 0.01
    )
    sgd = make_optimizer(SGD(momentum=0.9, nesterov=True), p, 0.1)
    assert sgd.param_groups[0]["momentum"] == 0.9 and sgd.param_groups[0]["nesterov"]
    assert isinstance(make_optimizer(torch.optim.Rprop, p, 0.1), torch.optim.Rprop)
    with pytest.raises(ValueError, match=r"optimizer must be one of \['adagrad', 'adam'"):
        make_optimizer("lbfgs", p, 0.1)


def test_config_checks_and_json_round_trip():
    with pytest.raises(ValueError, match="give exactly one of steps and epochs"):
        TrainConfig()
    with pytest.raises(ValueError, match="lr must be a positive number, got -1"):
        TrainConfig(steps=1, lr=-1)
    with pytest.raises(ValueError, match="schedule must be 'cosine' or 'constant', got 'linear'"):
        TrainConfig(steps=1, schedule="linear")
    with pytest.raises(ValueError, match=r"ema must be None or a decay in \[0, 1\), got 1"):
        TrainConfig(steps=1, ema=1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(steps=1, optimizer="nadam-ish")
    with pytest.raises(ValueError, match=r"group_steps\['d'\] must be an int >= 1, got 0"):
        TrainConfig(steps=1, group_steps={"d": 0})
    cfg = TrainConfig(epochs=3, optimizer=Adam(betas=(0.5, 0.9)), lr={"g": 1e-3, "d": 4e-3})
    again = TrainConfig.from_json(cfg.to_json())
    assert again == cfg
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_json({**cfg.to_json(), "lr_decay": 1})
    with pytest.raises(ValueError, match="lr has no rate for parameter group 'x'"):
        cfg.group_lr("x")
