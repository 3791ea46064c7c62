"""Diffusion: the schedules, noising, posterior and sampler steps against diffusers' DDPM and
DDIM schedulers (oracles to 1e-6), the ELBO against the two networks' factors (Monte Carlo), and
the probability-flow likelihood and samplers of a model whose denoiser is exact (Gaussian data)."""

from __future__ import annotations

import math
from contextlib import contextmanager

import pytest
import torch
from torch import Tensor, nn

from bayesgen.generative import CosineSchedule, Diffusion, LinearSchedule, load_model

diffusers = pytest.importorskip("diffusers")


def schedulers(T: int, kind: str, prediction: str = "epsilon"):
    beta_schedule = {"linear": "linear", "cosine": "squaredcos_cap_v2"}[kind]
    kwargs = dict(
        num_train_timesteps=T,
        beta_schedule=beta_schedule,
        prediction_type={"epsilon": "epsilon", "x0": "sample", "v": "v_prediction"}[prediction],
        clip_sample=False,
    )
    ddpm = diffusers.DDPMScheduler(**kwargs, variance_type="fixed_small")
    ddim = diffusers.DDIMScheduler(**kwargs, set_alpha_to_one=True)
    return ddpm, ddim


def in_float64(scheduler, betas: Tensor):
    """The scheduler with its β's (equal to ours to 1e-6: the schedule test) given in float64
    and its α's and ᾱ's recomputed from them: diffusers keeps them in float32, whose rounding
    the 1/√ᾱ_t of the last steps amplifies past 1e-6. The step arithmetic is then compared."""
    torch.testing.assert_close(betas, scheduler.betas.double(), rtol=0, atol=1e-6)
    scheduler.betas = betas.double()
    scheduler.alphas = 1.0 - scheduler.betas
    scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, 0)
    scheduler.one = torch.tensor(1.0, dtype=torch.float64)
    if hasattr(scheduler, "final_alpha_cumprod"):
        scheduler.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
    return scheduler


@contextmanager
def float64():
    """Build a model in float64 (its schedule buffers are made in the default dtype)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            yield
    finally:
        torch.set_default_dtype(old)


def model_for(T: int, kind: str, prediction: str = "epsilon", D: int = 3) -> Diffusion:
    schedule = LinearSchedule(1e-4, 0.02) if kind == "linear" else CosineSchedule()
    with float64():
        return Diffusion(
            D, timesteps=T, schedule=schedule, prediction=prediction, hidden=(16,), embedding=4
        )


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedule_and_add_noise_match_diffusers(kind):
    T = 1000
    ddpm, _ = schedulers(T, kind)
    model = model_for(T, kind)
    torch.testing.assert_close(model.betas[1:], ddpm.betas.double(), rtol=0, atol=1e-6)
    torch.testing.assert_close(
        model.alphas_cumprod[1:], ddpm.alphas_cumprod.double(), rtol=0, atol=1e-6
    )
    g = torch.Generator().manual_seed(0)
    x, noise = torch.randn(64, 3, generator=g), torch.randn(64, 3, generator=g)
    t = torch.randint(0, T, (64,), generator=g)  # diffusers' steps 0..T−1 are ours 1..T
    ours = model.add_noise(x.double(), noise.double(), t + 1)
    # diffusers keeps its schedule in float32: agreement to its precision (1e-6 relative)
    torch.testing.assert_close(ours, ddpm.add_noise(x, noise, t).double(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("prediction", ["epsilon", "x0", "v"])
def test_posterior_and_one_ancestral_step_match_ddpm(kind, prediction):
    T = 1000
    model = model_for(T, kind, prediction)
    ddpm = in_float64(schedulers(T, kind, prediction)[0], model.betas[1:])
    g = torch.Generator().manual_seed(1)
    z, out, x0 = (torch.randn(32, 3, generator=g, dtype=torch.float64) for _ in range(3))
    for step in (999, 500, 20, 1):  # diffusers' index; ours is step + 1 (≥ 2: noise is added)
        t = torch.full((32,), step + 1)
        var = ddpm._get_variance(step).double()
        mean, var_ours = model.q_posterior(x0, z, t)
        torch.testing.assert_close(var_ours[0, 0], var, rtol=1e-6, atol=1e-12)
        noise = torch.randn(32, 3, generator=torch.Generator().manual_seed(step), dtype=z.dtype)
        ref = ddpm.step(out, step, z, generator=torch.Generator().manual_seed(step)).prev_sample
        torch.testing.assert_close(
            model.ancestral_step(out, z, step + 1, noise), ref, rtol=1e-6, atol=1e-6
        )
    # the posterior mean alone: diffusers with an x_0 prediction, its noise removed
    ddpm_x0 = in_float64(schedulers(T, kind, "x0")[0], model.betas[1:])
    step = 300
    noise = torch.randn(32, 3, generator=torch.Generator().manual_seed(9), dtype=z.dtype)
    ref = ddpm_x0.step(x0, step, z, generator=torch.Generator().manual_seed(9)).prev_sample
    ref = ref - ddpm_x0._get_variance(step).double().sqrt() * noise
    mean, _ = model.q_posterior(x0, z, torch.full((32,), step + 1))
    torch.testing.assert_close(mean, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("prediction", ["epsilon", "x0", "v"])
def test_ddim_steps_match_diffusers(kind, prediction):
    T, S = 1000, 50
    model = model_for(T, kind, prediction)
    ddim = in_float64(schedulers(T, kind, prediction)[1], model.betas[1:])
    ddim.set_timesteps(S)
    taus = model.ddim_timesteps(S)
    assert taus == [int(t) + 1 for t in ddim.timesteps]
    g = torch.Generator().manual_seed(2)
    z, out = (torch.randn(32, 3, generator=g, dtype=torch.float64) for _ in range(2))
    for k in (0, 25, S - 1):  # the first, a middle and the last step (to ᾱ = 1)
        t_prev = taus[k + 1] if k + 1 < S else 0
        ref = ddim.step(out, int(ddim.timesteps[k]), z, eta=0.0).prev_sample
        torch.testing.assert_close(
            model.ddim_step(out, z, taus[k], t_prev), ref, rtol=1e-6, atol=1e-6
        )


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_clipped_steps_match_diffusers_clip_sample(kind):
    """x̂_0 clamped to [−c, c]: the ancestral step equals DDPM's ``clip_sample``, the DDIM step
    DDIM's ``clip_sample`` with ``use_clipped_model_output`` (ε̂ re-derived from the clamped
    x̂_0), at steps where the clamp is active for most rows."""
    T, S, c = 1000, 50, 0.5
    model = model_for(T, kind)
    schedule = {"linear": "linear", "cosine": "squaredcos_cap_v2"}[kind]
    kwargs = dict(
        num_train_timesteps=T, clip_sample=True, clip_sample_range=c, beta_schedule=schedule
    )
    ddpm = diffusers.DDPMScheduler(**kwargs, variance_type="fixed_small")
    ddpm = in_float64(ddpm, model.betas[1:])
    ddim = in_float64(diffusers.DDIMScheduler(**kwargs, set_alpha_to_one=True), model.betas[1:])
    ddim.set_timesteps(S)
    taus = model.ddim_timesteps(S)
    g = torch.Generator().manual_seed(4)
    z, out = (torch.randn(32, 3, generator=g, dtype=torch.float64) for _ in range(2))
    for step in (999, 500, 20):
        noise = torch.randn(32, 3, generator=torch.Generator().manual_seed(step), dtype=z.dtype)
        ref = ddpm.step(out, step, z, generator=torch.Generator().manual_seed(step)).prev_sample
        ours = model.ancestral_step(out, z, step + 1, noise, clip=c)
        torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)
        assert not torch.allclose(ours, model.ancestral_step(out, z, step + 1, noise))
    for k in (0, 25, S - 1):
        t_prev = taus[k + 1] if k + 1 < S else 0
        step = int(ddim.timesteps[k])
        ref = ddim.step(out, step, z, eta=0.0, use_clipped_model_output=True).prev_sample
        ours = model.ddim_step(out, z, taus[k], t_prev, clip=c)
        torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)


def test_clipping_keeps_a_misjudging_denoiser_bounded():
    """A denoiser that predicts ε̂ = 0 everywhere: x̂_0 = z_t / √ᾱ_t, which near t = T is
    ~10⁴ z_t, so the unclipped chains blow up; clamped, the last step returns x̂_0 ∈ [−c, c]
    (plus σ_1 noise for the ancestral chain)."""
    model = model_for(1000, "cosine")
    with torch.no_grad():
        for p in model.denoiser.parameters():
            p.zero_()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    free = model.sample(200, generator=g())
    assert float(free.abs().max()) > 1e3
    clipped = model.sample(200, generator=g(), clip=1.5)
    assert float(clipped.abs().max()) <= 1.5 + 6 * float(model.reverse_std[1])
    ddim = model.sample(200, generator=g(), sampler="ddim", clip=1.5)
    assert float(ddim.abs().max()) <= 1.5 + 1e-12
    with pytest.raises(ValueError, match="clip"):
        model.sample(2, clip=0.0)


@pytest.mark.parametrize("prediction", ["epsilon", "x0", "v"])
def test_predictions_convert_back_to_x0_and_noise(prediction):
    model = model_for(20, "cosine", prediction)
    g = torch.Generator().manual_seed(3)
    x0, eps = (torch.randn(50, 3, generator=g, dtype=torch.float64) for _ in range(2))
    t = torch.randint(1, 21, (50,), generator=g)
    z = model.add_noise(x0, eps, t)
    abar = model.alphas_cumprod[t].unsqueeze(-1)
    target = {"epsilon": eps, "x0": x0, "v": abar.sqrt() * eps - (1 - abar).sqrt() * x0}
    x0_hat, eps_hat = model.to_x0_eps(target[prediction], z, t)
    torch.testing.assert_close(x0_hat, x0)
    torch.testing.assert_close(eps_hat, eps)


def test_elbo_equals_the_networks_expectation():
    """ELBO(x) = E_q[log p(x, z_1..z_T) − log q(z_1..z_T | x)], the expectation taken by
    sampling the forward network q and scoring both networks factor by factor."""
    torch.manual_seed(0)
    model = Diffusion(2, timesteps=4, hidden=(32, 32), embedding=8)
    x = torch.tensor([[0.5, -1.0], [1.5, 0.3], [-0.7, 0.0]])
    K, B = 3000, len(x)
    xs = x.repeat(K, 1)  # (K·B, 2)
    with torch.no_grad():
        q, p = model.networks["q"], model.networks["p"]
        zs = q.sample(K * B, seed=0, context=xs)
        log_w = p.log_prob({**zs, "x": xs}) - q.log_prob(zs, context=xs)  # (K·B,)
        elbo = model.elbo(xs, estimator="exact", generator=torch.Generator().manual_seed(1))
        uniform = model.elbo(xs, estimator="uniform", generator=torch.Generator().manual_seed(2))
    for est in (elbo, uniform):
        a, b = log_w.reshape(K, B), est.reshape(K, B)
        se = (a.var(0) / K + b.var(0) / K).sqrt()
        assert ((a.mean(0) - b.mean(0)).abs() < 4 * se).all(), (a.mean(0), b.mean(0), se)


class ExactGaussianDenoiser(nn.Module):
    """The optimal ε-predictor for data N(μ, s² I): E[ε | z_t] = √(1 − ᾱ)(z − √ᾱ μ) /
    (ᾱ s² + 1 − ᾱ), at integer or real t."""

    def __init__(self, model: Diffusion, mu: Tensor, s: float):
        super().__init__()
        object.__setattr__(self, "model", model)
        self.register_buffer("mu", mu)
        self.s2 = s * s
        self.dummy = nn.Parameter(torch.zeros(()))  # the factors read the network's dtype

    def forward(self, z: Tensor, t: Tensor, context: Tensor | None = None) -> Tensor:
        log_abar = self.model.log_alpha_bar(t if t.is_floating_point() else t.long())
        abar = log_abar.exp().unsqueeze(-1).to(z.dtype)  # (B, 1)
        one_minus = -torch.expm1(log_abar).unsqueeze(-1).to(z.dtype)
        return one_minus.sqrt() * (z - abar.sqrt() * self.mu) / (abar * self.s2 + one_minus)


def exact_model(T: int = 1000, mu=(1.0, -2.0), s: float = 0.5) -> tuple[Diffusion, Tensor, float]:
    with float64():
        model = Diffusion(len(mu), timesteps=T, hidden=(8,), embedding=4)
    mu_t = torch.tensor(mu, dtype=torch.float64)
    model.denoiser = ExactGaussianDenoiser(model, mu_t, s)
    return model, mu_t, s


@pytest.mark.parametrize(
    "method,estimator", [("dopri5", "exact"), ("rk4", "exact"), ("dopri5", "hutchinson")]
)
def test_ode_log_likelihood_is_exact_for_the_exact_denoiser(method, estimator):
    """The probability-flow ODE of the optimal denoiser carries N(0, I) to N(μ, s² I): its
    log-likelihood equals the Gaussian log-density. (The drift is linear with a diagonal
    Jacobian here, so a Rademacher probe gives the exact trace too.)"""
    model, mu, s = exact_model()
    x = mu + s * torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=mu.dtype)
    x = torch.cat([x, mu[None] + 2.5 * s])  # and a point in the tail
    exact = torch.distributions.Normal(mu, s).log_prob(x).sum(-1)
    ours = model.log_prob(
        x,
        method=method,
        divergence_estimator=estimator,
        steps=200,
        generator=torch.Generator().manual_seed(0),
    )
    torch.testing.assert_close(ours, exact, rtol=0, atol=1e-3)


@pytest.mark.parametrize("sampler,steps", [("ancestral", None), ("ddim", 50)])
def test_samplers_draw_the_data_distribution_with_the_exact_denoiser(sampler, steps):
    model, mu, s = exact_model()
    n = 4000
    x = model.sample(n, generator=torch.Generator().manual_seed(4), sampler=sampler, steps=steps)
    se_mean = s / math.sqrt(n)
    assert ((x.mean(0) - mu).abs() < 4 * se_mean + 0.01).all(), x.mean(0)
    # sd of the sample standard deviation ≈ s / √(2n); a 2% allowance for the discretisation
    assert ((x.std(0) - s).abs() < 4 * s / math.sqrt(2 * n) + 0.02 * s).all(), x.std(0)


def test_ddim_is_deterministic_given_the_generator():
    model, _, _ = exact_model(T=20)
    a = model.sample(5, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=10)
    b = model.sample(5, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=10)
    assert torch.equal(a, b)


def test_classifier_free_guidance_interpolates_the_conditions():
    torch.manual_seed(0)
    model = Diffusion(2, num_classes=3, timesteps=10, hidden=(16,), label_dropout=0.3)
    z, t = torch.randn(8, 2), torch.randint(1, 11, (8,))
    c = model.context(torch.arange(8) % 3, 8)
    with torch.no_grad():
        cond, uncond = model.output(z, t, c), model.output(z, t, torch.zeros_like(c))
        torch.testing.assert_close(model.output(z, t, c, guidance=1.0), cond)
        torch.testing.assert_close(model.output(z, t, c, guidance=0.0), uncond)
        torch.testing.assert_close(
            model.output(z, t, c, guidance=3.0), uncond + 3 * (cond - uncond)
        )
    s = model.sample(6, torch.tensor([0, 1, 2, 0, 1, 2]), guidance=2.0, sampler="ddim", steps=5)
    assert s.shape == (6, 2) and torch.isfinite(s).all()


def test_forward_network_is_the_closed_form_marginal():
    """Ancestral sampling of q from x gives z_T with mean √ᾱ_T x and variance 1 − ᾱ_T."""
    torch.manual_seed(0)
    model = Diffusion(2, timesteps=5, schedule=LinearSchedule(0.1, 0.4), hidden=(8,))
    n = 20000
    x = torch.tensor([[2.0, -1.0]]).expand(n, 2)
    z5 = model.networks["q"].sample(n, seed=0, context=x)["z5"].double()
    abar = float(model.alphas_cumprod[5])
    assert list(model.networks["q"].order) == ["z1", "z2", "z3", "z4", "z5"]
    assert list(model.networks["p"].order) == ["z5", "z4", "z3", "z2", "z1", "x"]
    torch.testing.assert_close(
        z5.mean(0), math.sqrt(abar) * x[0].double(), atol=4 * math.sqrt(1 / n), rtol=0
    )
    torch.testing.assert_close(
        z5.var(0), torch.full((2,), 1 - abar, dtype=torch.float64), atol=0.03, rtol=0
    )


def test_elbo_fraction_draws_t_uniformly_in_log_snr():
    """f = 1 puts on each step the mass of its cell of λ = log ᾱ/(1 − ᾱ) (floored at −10);
    f = 0.5 is the even mixture with U{1..T}; t = 0 (the data) is never drawn."""
    T = 50
    uniform = Diffusion(2, timesteps=T, hidden=(8,))
    model = Diffusion(2, timesteps=T, hidden=(8,), elbo_fraction=1.0)
    abar = model.alphas_cumprod.double()[1:]
    lam = (abar / (1 - abar)).log().clamp(min=-10.0)  # (T,)
    p = model.time_proposal.double()
    assert p[0] == 0 and float(p.sum()) == pytest.approx(1.0, abs=1e-6)
    # steps 2..T: mass ∝ the λ-interval each covers, so the mass per unit of λ is constant
    density = p[2:] / (lam[:-1] - lam[1:]).clamp(min=1e-12)
    live = lam[1:] > -10.0
    # (the buffer is float32: relative rounding of ~1e-5 on the λ differences)
    torch.testing.assert_close(
        density[live], density[live][:1].expand(int(live.sum())), rtol=1e-4, atol=0
    )
    torch.testing.assert_close(
        Diffusion(2, timesteps=T, hidden=(8,), elbo_fraction=0.5).time_proposal.double(),
        0.5 * p + 0.5 * uniform.time_proposal.double(),
        atol=1e-7,
        rtol=0,
    )
    # the loss draws t from it: the empirical distribution of t within its sampling error
    seen = []
    model.denoiser = _RecordTime(seen)
    torch.manual_seed(0)
    model.loss(torch.zeros(40000, 2))
    counts = torch.bincount(torch.cat(seen).long(), minlength=T + 1).double() / 40000
    sd = (p * (1 - p) / 40000).sqrt()
    assert counts[0] == 0 and bool(((counts - p).abs() <= 5 * sd + 1e-9).all())


class _RecordTime(nn.Module):
    def __init__(self, seen: list):
        super().__init__()
        self.seen = seen

    def forward(self, z, t, context=None):
        self.seen.append(t)
        return torch.zeros_like(z)


def test_film_time_conditioning_modulates_every_hidden_layer():
    """With 'film' the time enters every hidden layer (changing t changes the output through
    each modulation) and not the input; a context combines by concatenation or FiLM only."""
    torch.manual_seed(0)
    model = Diffusion(3, timesteps=10, hidden=(16, 16), embedding=8, time_conditioning="film")
    net = model.denoiser.net
    assert net.linears[0].in_features == 3 and len(net.blocks) == 2
    for block in net.blocks:  # FiLM starts as the identity: give it something to say
        nn.init.normal_(block.proj.weight)
    z = torch.randn(5, 3)
    a, b = (model.output(z, torch.full((5,), t), None) for t in (1, 9))
    assert not torch.allclose(a, b)
    cond = Diffusion(3, num_classes=4, timesteps=10, hidden=(16,), time_conditioning="film")
    assert cond.denoiser.net.linears[0].in_features == 3 + 4  # y at the input, t modulates
    with pytest.raises(ValueError, match="time_conditioning='film' combines with"):
        Diffusion(3, num_classes=4, hidden=(16,), time_conditioning="film",
                  conditioning="attention")  # fmt: skip
    with pytest.raises(ValueError, match="time_conditioning must be"):
        Diffusion(3, time_conditioning="add")
    with pytest.raises(ValueError, match="elbo_fraction"):
        Diffusion(3, elbo_fraction=1.5)


def test_options_are_checked_and_saved(tmp_path):
    with pytest.raises(ValueError, match="prediction must be"):
        Diffusion(2, prediction="score")
    with pytest.raises(ValueError, match="schedule must be"):
        Diffusion(2, schedule="sigmoid")
    with pytest.raises(ValueError, match="embedding must be"):
        Diffusion(2, embedding=7)
    with pytest.raises(ValueError, match="timesteps must be"):
        Diffusion(2, timesteps=1)
    with pytest.raises(ValueError, match="beta_end must be"):
        LinearSchedule(0.02, 0.01)
    model = Diffusion(2, timesteps=10, schedule=LinearSchedule(0.01, 0.2), prediction="v")
    with pytest.raises(ValueError, match="sampler must be"):
        model.sample(2, sampler="euler")
    with pytest.raises(ValueError, match="estimator must be"):
        model.elbo(torch.zeros(2, 2), estimator="iwae")
    with pytest.raises(ValueError, match="method must be"):
        model.log_prob(torch.zeros(2, 2), method="euler")
    again = load_model(model.save(tmp_path / "m.json"))
    assert again.config == model.config and again.config["schedule"]["name"] == "linear"
    torch.testing.assert_close(again.betas, model.betas)
