"""The loop against hand-written torch loops on the same minibatches: plain steps, clipping, the
moving average, groups stepped in turn; seeding; evaluation and early stopping; stopping on a
NaN batch or a non-finite loss; the history files."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from regression_density import model, regression_data
from torch import nn

from bayesgen.data.source import TensorData
from bayesgen.train import SGD, AdamW, NonFiniteLoss, TrainConfig, load_checkpoint, train


def _reference(m, data, steps, *, lr, batch, seed, clip=None, ema=None, plan=None, opt=None):
    """Adam (or ``opt(params, lr)``) by hand on the loop's documented minibatches:
    randperm(N)[:B] per update from a generator seeded with ``seed``; groups of ``plan``
    (name -> (params, updates)) in turn; ``lr`` a number or a dict group -> rate."""
    gen = torch.Generator().manual_seed(seed)
    plan = plan or {"model": (list(m.parameters()), 1)}
    opt = opt or (lambda ps, lr: torch.optim.Adam(ps, lr=lr, fused=True))  # Adam runs fused
    rate = lr if isinstance(lr, dict) else dict.fromkeys(plan, lr)
    opts = {g: opt(ps, rate[g]) for g, (ps, _) in plan.items()}
    params = list(m.parameters())
    shadow = [p.detach().clone() for p in params]
    trace = []
    for _ in range(steps):
        for g, (ps, k) in plan.items():
            for _ in range(k):
                x, y = data.batch(torch.randperm(len(data), generator=gen)[:batch])
                opts[g].zero_grad()
                m.loss(x, y).backward()
                if clip is not None:
                    nn.utils.clip_grad_norm_(ps, clip)
                opts[g].step()
                trace.append(g)
                if ema is not None:
                    with torch.no_grad():
                        for p, e in zip(params, shadow, strict=True):
                            e.copy_(ema * e + (1 - ema) * p)
    return shadow, trace


def _config(**kw):
    base = dict(steps=12, batch_size=16, lr=0.02, schedule="constant", seed=5)
    return TrainConfig(**{**base, **kw})


def _same(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_steps_equal_a_hand_written_adam_loop_on_the_same_minibatches():
    data = regression_data()
    ours, ref = model(1), model(1)
    history = train(ours, data, config=_config())
    _reference(ref, data, 12, lr=0.02, batch=16, seed=5)
    assert _same(ours, ref)
    assert not _same(ours, model(1))  # it did train
    assert [r["step"] for r in history.records] == list(range(1, 13))
    assert history.records[-1]["epoch"] == pytest.approx(12 / 6)


@pytest.mark.parametrize(
    "option, torch_opt",
    [
        (
            SGD(momentum=0.9, nesterov=True),
            dict(cls=torch.optim.SGD, momentum=0.9, nesterov=True, foreach=False),
        ),
        (AdamW(betas=(0.5, 0.9)), dict(cls=torch.optim.AdamW, betas=(0.5, 0.9), fused=True)),
    ],
)
def test_sgd_and_adamw_with_weight_decay_equal_torch(option, torch_opt):
    data = regression_data()
    ours, ref = model(7), model(7)
    train(ours, data, config=_config(optimizer=option, weight_decay=0.01))
    kw = dict(torch_opt)
    cls = kw.pop("cls")
    _reference(
        ref,
        data,
        12,
        lr=0.02,
        batch=16,
        seed=5,
        opt=lambda ps, lr: cls(ps, lr=lr, weight_decay=0.01, **kw),
    )
    assert _same(ours, ref)


def test_gradient_clipping_equals_torch_clip_grad_norm():
    data = regression_data()
    ours, ref, free = model(2), model(2), model(2)
    train(ours, data, config=_config(clip_grad=0.05))
    _reference(ref, data, 12, lr=0.02, batch=16, seed=5, clip=0.05)
    train(free, data, config=_config())
    assert _same(ours, ref)
    assert not _same(ours, free)  # clipping was active


@pytest.mark.parametrize("warmup", [False, True])
def test_ema_is_the_moving_average_formula_on_two_steps(tmp_path, warmup):
    data = regression_data()
    ours, ref = model(3), model(3)
    theta0 = [p.detach().clone() for p in ref.parameters()]
    cfg = _config(steps=2, ema=0.6, ema_warmup=warmup, out=str(tmp_path / "run"))
    train(ours, data, config=cfg)
    gen = torch.Generator().manual_seed(5)
    opt = torch.optim.Adam(ref.parameters(), lr=0.02, fused=True)
    thetas = []
    for _ in range(2):
        x, y = data.batch(torch.randperm(len(data), generator=gen)[:16])
        opt.zero_grad()
        ref.loss(x, y).backward()
        opt.step()
        thetas.append([p.detach().clone() for p in ref.parameters()])
    # θ̄₂ = d₁(d₀ θ₀ + (1−d₀) θ₁) + (1−d₁) θ₂; warm-up: d_n = min(0.6, (1 + n)/(10 + n))
    d0, d1 = (1 / 10, 2 / 11) if warmup else (0.6, 0.6)
    for p, t0, t1, t2 in zip(ours.parameters(), theta0, *thetas, strict=True):
        avg = d1 * (d0 * t0 + (1 - d0) * t1) + (1 - d1) * t2
        torch.testing.assert_close(p.detach(), avg, atol=1e-7, rtol=0)
    # the checkpoint keeps the raw weights θ₂ beside the average
    tensors, meta = load_checkpoint(tmp_path / "run")
    names = [name for name, _ in ref.named_parameters()]
    assert meta["step"] == 2
    for name, t2 in zip(names, thetas[1], strict=True):
        assert torch.equal(tensors[f"model/{name}"], t2)


def test_two_parameter_groups_are_stepped_in_turn():
    data = regression_data()
    ours, ref = model(4, groups=2), model(4, groups=2)
    rates = {"first": 0.02, "rest": 0.005}
    cfg = _config(steps=4, lr=rates, group_steps={"first": 2, "rest": 1})
    history = train(ours, data, config=cfg)
    ps = list(ref.parameters())
    _, trace = _reference(
        ref, data, 4, lr=rates, batch=16, seed=5, plan={"first": (ps[:2], 2), "rest": (ps[2:], 1)}
    )
    assert trace[:3] == ["first", "first", "rest"]
    assert _same(ours, ref)
    assert {"loss/first", "loss/rest", "lr/first", "lr/rest"} <= set(history.records[0])
    assert history.records[0]["lr/rest"] == 0.005


def test_same_seed_same_result_and_another_seed_differs():
    data = regression_data()
    runs = [model(0) for _ in range(3)]
    h = [train(m, data, config=_config(seed=s)) for m, s in zip(runs, (7, 7, 8), strict=True)]
    assert _same(runs[0], runs[1]) and not _same(runs[0], runs[2])
    strip = [[{k: v for k, v in r.items() if k != "seconds"} for r in x.records] for x in h]
    assert strip[0] == strip[1] != strip[2]


def test_epochs_visit_every_row_once_per_pass():
    seen = []

    class Spy(TensorData):
        def batch(self, index, generator=None):
            seen.append(index.clone())
            return super().batch(index, generator)

    base = regression_data(40)
    train(model(0), Spy(base.x, base.y), config=_config(steps=None, epochs=2, batch_size=16))
    assert [len(i) for i in seen] == [16, 16, 8, 16, 16, 8]
    for epoch in (seen[:3], seen[3:]):
        assert torch.equal(torch.cat(epoch).sort().values, torch.arange(40))


def test_evaluation_and_early_stopping_restore_the_best_weights(tmp_path):
    train_set, val = regression_data(16, seed=1), regression_data(200, seed=2)
    m = model(5, hidden=32)
    cfg = _config(steps=3000, lr=0.03, eval_every=10, patience=4, out=str(tmp_path))
    history = train(m, train_set, val, config=cfg)
    evals = [r for r in history.records if "val_loss" in r]
    assert history.stopped_early and history.steps < 3000
    best = min(evals, key=lambda r: r["val_loss"])
    assert history.best == best and evals.index(best) == len(evals) - 5
    with torch.no_grad():  # the model holds the best weights again: same held-out loss
        again = float(m.metrics(val.x, val.y)["loss"])
    assert again == pytest.approx(best["val_loss"], rel=1e-6)
    # resuming a run that stopped early trains no further and ends on the same best weights
    other = model(9, hidden=32)
    resumed = train(other, train_set, val, config=cfg, resume=tmp_path)
    assert resumed.stopped_early and resumed.steps == history.steps and _same(other, m)
    # the history files: JSON lines equal to the records, and the curves
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == history.records
    assert (tmp_path / "history.png").stat().st_size > 1000
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["paradigm"] == "regression_density" and config["model_config"]["hidden"] == 32
    assert config["train"]["patience"] == 4


def test_evaluation_is_row_weighted_over_held_out_batches():
    val = regression_data(50, seed=2)
    m = model(6)
    history = train(m, regression_data(), val, config=_config(steps=3, eval_batch_size=16))
    with torch.no_grad():
        full = float(m.metrics(val.x, val.y)["loss"])  # 50 rows in batches of 16, 16, 16, 2
    assert history.last["val_loss"] == pytest.approx(full, rel=1e-6)


def test_a_nan_in_a_batch_stops_at_its_step_and_keeps_the_last_good_checkpoint(tmp_path):
    data = regression_data(96)
    data.x[50, 1] = float("nan")  # row 50: step 4 of ordered batches of 16
    cfg = _config(steps=None, epochs=1, shuffle=False, checkpoint_every=2, out=str(tmp_path))
    with pytest.raises(
        ValueError, match=r"step 4: the batch has a NaN or inf \(row 2 of the batch"
    ):
        train(model(0), data, config=cfg)
    _, meta = load_checkpoint(tmp_path)
    assert meta["step"] == 2
    # a finite batch whose loss overflows: a non-finite loss, named with its step
    data.x[50, 1] = 1e30
    with pytest.raises(NonFiniteLoss, match="step 4: the loss of group 'model' is inf") as err:
        train(model(0), data, config=cfg)
    assert err.value.step == 4 and "last good checkpoint, step 2" in str(err.value)


def test_progress_bar_shows_live_metrics_only_on_a_terminal(monkeypatch, capsys):
    cfg = _config(steps=3, quiet=False, desc="fitting")
    train(model(0), regression_data(), config=cfg)
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest
    import tqdm.auto

    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    bar = tqdm.auto.tqdm  # redrawn at every step (not every 0.1 s) so the test sees each one
    monkeypatch.setattr(tqdm.auto, "tqdm", lambda *a, **k: bar(*a, mininterval=0, **k))
    train(model(0), regression_data(), config=cfg)
    err = capsys.readouterr().err
    assert "fitting" in err and "3/3" in err and "loss=" in err
    train(model(0), regression_data(), config=_config(steps=3, quiet=True))
    assert capsys.readouterr().err == ""


def test_a_loss_that_is_not_a_scalar_and_unknown_groups_are_errors():
    class PerRow(type(model(0))):
        def loss(self, x, y=None, *, group=None):
            return -self.log_prob(x, y)  # (B,)

    with pytest.raises(ValueError, match=r"model.loss must return a scalar tensor, got \(16,\)"):
        train(PerRow(), regression_data(), config=_config(steps=1))
    with pytest.raises(ValueError, match=r"group_steps names groups \['critic'\]"):
        train(model(0), regression_data(), config=_config(steps=1, group_steps={"critic": 5}))
    with pytest.raises(ValueError, match="patience needs eval_every"):
        train(model(0), regression_data(), config=_config(steps=1, patience=2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_on_the_gpu_matches_the_cpu_and_resumes(tmp_path):
    data, val = regression_data(), regression_data(32, seed=4)  # on the CPU: moved per batch
    cpu, gpu = model(8), model(8)
    cfg = _config(steps=30, ema=0.9, eval_every=5, checkpoint_every=10)
    train(cpu, data, val, config=cfg)
    history = train(gpu, data, val, config=dataclasses.replace(cfg, device="cuda"))
    assert next(gpu.parameters()).is_cuda and history.last["val_loss"] > 0
    for a, b in zip(cpu.parameters(), gpu.parameters(), strict=True):
        torch.testing.assert_close(a, b.cpu(), atol=1e-4, rtol=1e-4)
    # checkpoints written on the GPU (CUDA RNG state included) resume there
    run = dataclasses.replace(cfg, device="cuda", out=str(tmp_path))
    whole = model(8)
    train(whole, data, val, config=run)
    assert "rng/cuda/0" in load_checkpoint(tmp_path)[0]
    (tmp_path / "again").mkdir()
    cut = dataclasses.replace(run, out=str(tmp_path / "again"))

    def interrupt(record):
        if record["step"] == 15:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(model(8), data, val, config=cut, on_eval=interrupt)
    resumed = model(0)
    train(resumed, data, val, config=cut, resume=tmp_path / "again")
    for a, b in zip(whole.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_labels_reach_only_a_conditional_model():
    """A labelled data set trains an unconditional model on its rows and a conditional one on
    its labels too (MNIST and the digits carry labels)."""
    from bayesgen.generative import VAE

    x = torch.bernoulli(torch.full((64, 6), 0.4), generator=torch.Generator().manual_seed(0))
    data = TensorData(x, torch.arange(64) % 2)
    config = TrainConfig(steps=3, batch_size=16, quiet=True)
    assert train(VAE(6, hidden=[8]), data, data, config=config).last["step"] == 3
    assert train(VAE(6, hidden=[8], num_classes=2), data, data, config=config).last["step"] == 3
    with pytest.raises(ValueError, match="conditional; give y"):
        train(VAE(6, hidden=[8], num_classes=2), TensorData(x), config=config)


def test_minimize_is_the_one_quasi_newton_fit():
    """L-BFGS through ``minimize`` reaches the closed-form minimum of a least-squares loss, and
    its options are checked by name."""
    from bayesgen.train import minimize

    g = torch.Generator().manual_seed(0)
    A = torch.randn(20, 3, generator=g, dtype=torch.float64)
    b = torch.randn(20, generator=g, dtype=torch.float64)
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    minimize(lambda: (A @ x - b).square().sum(), [x], tolerance_grad=1e-12, tolerance_change=1e-16)
    exact = torch.linalg.lstsq(A, b[:, None]).solution[:, 0]
    torch.testing.assert_close(x.detach(), exact, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="max_iter"):
        minimize(lambda: x.sum(), [x], max_iter=0)
