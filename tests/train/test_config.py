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


class _Clock:
    """A perf_counter that advances one second per reading: the loop reads it once at the start
    and once after every step, so step k ends at k seconds."""

    def __init__(self, killed_at: int | None = None):
        self.now, self.killed_at = -1.0, killed_at

    def perf_counter(self) -> float:
        self.now += 1.0
        if self.now == self.killed_at:
            raise KeyboardInterrupt
        return self.now


@pytest.mark.parametrize("warmup", [0, 3])
def test_a_time_budget_at_one_second_a_step_is_the_run_of_that_many_steps(monkeypatch, warmup):
    import bayesgen.train.loop as loop

    runs = {}
    for name, length in [("steps", dict(steps=10)), ("seconds", dict(max_seconds=10.0))]:
        monkeypatch.setattr(loop, "time", _Clock())
        cfg = TrainConfig(batch_size=8, lr=0.1, optimizer="sgd", warmup=warmup, **length)
        runs[name] = (m := model(0)), train(m, regression_data(), config=cfg)
    (a, ha), (b, hb) = runs["steps"], runs["seconds"]
    assert [r["lr"] for r in hb.records] == pytest.approx([r["lr"] for r in ha.records], rel=1e-12)
    assert hb.steps == 10 and hb.out_of_time and not ha.out_of_time
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    # bounded both ways the run ends at whichever comes first, and the cosine with it
    monkeypatch.setattr(loop, "time", _Clock())
    cfg = TrainConfig(
        steps=40, max_seconds=10.0, batch_size=8, lr=0.1, optimizer="sgd", warmup=warmup
    )
    both = train(model(0), regression_data(), config=cfg)
    assert both.steps == 10 and both.out_of_time
    assert [r["lr"] for r in both.records] == pytest.approx([r["lr"] for r in ha.records])


def test_a_resumed_time_budget_goes_on_from_the_saved_clock(monkeypatch, tmp_path):
    import bayesgen.train.loop as loop

    def run(out, clock, resume=None):
        monkeypatch.setattr(loop, "time", clock)
        cfg = TrainConfig(
            max_seconds=12.0, batch_size=8, lr=0.1, optimizer="sgd", out=str(out),
            checkpoint_every=1,
        )  # fmt: skip
        m = model(0)
        return m, train(m, regression_data(), config=cfg, resume=resume)

    whole, hw = run(tmp_path / "whole", _Clock())
    with pytest.raises(KeyboardInterrupt):  # killed during step 6: the checkpoint is step 5's
        run(tmp_path / "cut", _Clock(killed_at=6))
    resumed, hr = run(tmp_path / "cut", _Clock(), resume=tmp_path / "cut")
    assert hr.steps == hw.steps == 12 and hr.out_of_time
    assert [r["lr"] for r in hr.records] == pytest.approx([r["lr"] for r in hw.records])
    for p, q in zip(whole.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(p, q)


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
    with pytest.raises(ValueError, match="give the run's length: steps, epochs or max_seconds"):
        TrainConfig()
    with pytest.raises(ValueError, match="give one of steps and epochs, not both"):
        TrainConfig(steps=1, epochs=1)
    with pytest.raises(ValueError, match="max_seconds must be None or a positive number, got 0"):
        TrainConfig(max_seconds=0)
    with pytest.raises(ValueError, match="lr must be a positive number, got -1"):
        TrainConfig(steps=1, lr=-1)
    with pytest.raises(ValueError, match="schedule must be 'cosine' or 'constant', got 'linear'"):
        TrainConfig(steps=1, schedule="linear")
    with pytest.raises(ValueError, match=r"ema must be None or a decay in \[0, 1\), got 1"):
        TrainConfig(steps=1, ema=1)
    with pytest.raises(ValueError, match="ema_warmup must be True or False, got 'yes'"):
        TrainConfig(steps=1, ema=0.9, ema_warmup="yes")
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
