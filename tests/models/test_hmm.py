"""HMM: agreement with hmmlearn, brute-force enumeration, EM, supervised counts, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hmmlearn import hmm as hl

from bayesgen.models import HMM
from bayesgen.models.hmm.recursions import forward
from bayesgen.models.hmm.segmented import loglik_segmented

K, M, D = 4, 6, 3


def random_params(seed, order=1, K=K, M=M, D=D):
    rng = np.random.default_rng(seed)
    p = {
        "startprob_": rng.dirichlet(np.ones(K)),
        "transmat_": rng.dirichlet(np.ones(K), K),
        "emissionprob_": rng.dirichlet(np.ones(M), K),
        "means_": rng.normal(scale=2.0, size=(K, D)),
        "covars_": rng.uniform(0.3, 2.0, size=(K, D)),
    }
    if order == 2:
        p["transmat2_"] = rng.dirichlet(np.ones(K), (K, K))
    return p


def make(emission, p, order=1, **kw):
    model = HMM(len(p["startprob_"]), emission, order=order, **kw)
    names = ["startprob_", "transmat_"] + (["transmat2_"] if order == 2 else [])
    names += ["emissionprob_"] if emission == "categorical" else ["means_", "covars_"]
    for name in names:
        setattr(model, name, p[name])
    return model


def peer(emission, p):
    if emission == "categorical":
        ref = hl.CategoricalHMM(K, n_features=M, implementation="scaling")
        ref.emissionprob_ = p["emissionprob_"]
    else:
        ref = hl.GaussianHMM(K, covariance_type="diag", implementation="scaling")
        ref.means_, ref.covars_ = p["means_"], p["covars_"]
    ref.startprob_, ref.transmat_ = p["startprob_"], p["transmat_"]
    return ref


def joint_logprob(p, z, x, emission, order=1):
    """log p(x, z) of one path by the chain rule; x entries that are NaN / -1 are missing."""
    lp = math.log(p["startprob_"][z[0]])
    for t in range(1, len(z)):
        if order == 2 and t >= 2:
            lp += math.log(p["transmat2_"][z[t - 2], z[t - 1], z[t]])
        else:
            lp += math.log(p["transmat_"][z[t - 1], z[t]])
    for t, zt in enumerate(z):
        if emission == "categorical":
            if not np.isnan(x[t]):
                lp += math.log(p["emissionprob_"][zt, int(x[t])])
        else:
            o = ~np.isnan(x[t])
            mu, var = p["means_"][zt][o], p["covars_"][zt][o]
            lp += float(np.sum(-0.5 * np.log(2 * np.pi * var) - (x[t][o] - mu) ** 2 / (2 * var)))
    return lp


def enumerate_posterior(p, x, emission, order=1, labels=None, K=K):
    """log p(x), posterior marginals and the best path by summing over all K^T paths."""
    T = len(x)
    paths = [
        z
        for z in itertools.product(range(K), repeat=T)
        if labels is None or all(lab < 0 or lab == zt for lab, zt in zip(labels, z, strict=True))
    ]
    lps = np.array([joint_logprob(p, z, x, emission, order) for z in paths])
    logz = np.logaddexp.reduce(lps)
    post = np.zeros((T, K))
    for z, lp in zip(paths, lps, strict=True):
        post[np.arange(T), list(z)] += np.exp(lp - logz)
    return logz, post, paths[int(np.argmax(lps))], lps.max()


# ----------------------------------------------------------------------------- hmmlearn
@pytest.mark.parametrize("emission", ["categorical", "gaussian"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_hmmlearn(emission, seed):
    p = random_params(seed)
    ref = peer(emission, p)
    lengths = [120, 1, 37, 300]
    X, _ = ref.sample(sum(lengths), random_state=seed)
    model = make(emission, p)
    assert abs(model.score(X, lengths) - ref.score(X, lengths)) < 1e-6
    ref_lp, ref_path = ref.decode(X, lengths)
    lp, path = model.decode(X, lengths)
    assert abs(lp - ref_lp) < 1e-6
    # identical paths, except where two paths tie exactly (categorical emissions can produce
    # permuted paths with the same product of factors): then both have the best joint log p(x, z)
    same = path.numpy() == ref_path
    assert same.mean() > 0.99
    if not same.all():
        ours = model.score_samples(X, lengths, labels=path)
        theirs = model.score_samples(X, lengths, labels=ref_path)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-9)
    np.testing.assert_allclose(
        model.predict_proba(X, lengths).numpy(), ref.predict_proba(X, lengths), atol=1e-9
    )
    # per-sequence scores add up to the total and match hmmlearn sequence by sequence
    starts = np.cumsum([0] + lengths)
    per_seq = [ref.score(X[a:b]) for a, b in zip(starts[:-1], starts[1:], strict=True)]
    np.testing.assert_allclose(model.score_samples(X, lengths).numpy(), per_seq, atol=1e-6)


@pytest.mark.parametrize("emission", ["categorical", "gaussian"])
def test_one_baum_welch_step_matches_hmmlearn(emission):
    p = random_params(3)
    ref = peer(emission, p)
    lengths = [200, 150, 50]
    X, _ = ref.sample(sum(lengths), random_state=4)
    ref.init_params, ref.n_iter = "", 1
    ref.params = "ste" if emission == "categorical" else "stmc"
    ref.fit(X, lengths)
    model = make(emission, p, n_iter=1, warm_start=True).fit(X, lengths)
    names = ["startprob_", "transmat_"]
    names += ["emissionprob_"] if emission == "categorical" else ["means_"]
    for name in names:
        np.testing.assert_allclose(getattr(model, name).numpy(), getattr(ref, name), atol=1e-10)
    if emission == "gaussian":
        np.testing.assert_allclose(model.covars_.numpy(), ref._covars_, atol=1e-10)


# ----------------------------------------------------------------------------- enumeration
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("emission", ["categorical", "gaussian"])
def test_posteriors_equal_enumeration_with_missing_values_and_labels(order, emission):
    p = random_params(5, order=order, K=3)
    model = make(emission, p, order=order)
    rng = np.random.default_rng(6)
    if emission == "categorical":
        seqs = [rng.integers(0, M, T).astype(float) for T in (6, 3, 1, 2)]
        seqs[0][[1, 4]] = np.nan  # whole steps missing
    else:
        seqs = [rng.normal(size=(T, D)) for T in (6, 3, 1, 2)]
        seqs[0][1] = np.nan  # a whole step
        seqs[0][3, [0, 2]] = np.nan  # two of three dimensions
    labels = [np.array([-1, 2, -1, -1, 0, -1]), np.full(3, -1), np.array([1]), np.full(2, -1)]
    # a padded batch: every query at once
    B, T = len(seqs), max(map(len, seqs))
    Xp = np.zeros((B, T) + seqs[0].shape[1:])
    mask = np.zeros((B, T), dtype=bool)
    Lp = np.full((B, T), -1)
    for b, (x, lab) in enumerate(zip(seqs, labels, strict=True)):
        Xp[b, : len(x)], mask[b, : len(x)], Lp[b, : len(x)] = x, True, lab
    for use_labels in (False, True):
        kw = {"labels": Lp} if use_labels else {}
        scores = model.score_samples(Xp, mask=mask, **kw).numpy()
        post = model.predict_proba(Xp, mask=mask, **kw).numpy()
        lp, paths = model.decode(Xp, mask=mask, **kw)
        best_total = 0.0
        for b, x in enumerate(seqs):
            lab = labels[b] if use_labels else None
            logz, marg, best, best_lp = enumerate_posterior(p, x, emission, order, lab, K=3)
            assert scores[b] == pytest.approx(logz, abs=1e-10)
            np.testing.assert_allclose(post[b, : len(x)], marg, atol=1e-10)
            assert tuple(paths[b, : len(x)].tolist()) == best
            assert (paths[b, len(x) :] == -1).all()
            best_total += best_lp
        assert lp == pytest.approx(best_total, abs=1e-9)


def test_layouts_agree():
    p = random_params(7)
    model = make("categorical", p)
    rng = np.random.default_rng(8)
    seqs = [rng.integers(0, M, T) for T in (5, 9, 2)]
    flat = np.concatenate(seqs)
    lengths = [len(s) for s in seqs]
    concat = model.predict_proba(flat, lengths)
    listed = model.predict_proba(seqs)
    np.testing.assert_allclose(torch.cat(listed).numpy(), concat.numpy())
    assert model.predict(flat.reshape(-1, 1), lengths).shape == (16,)
    assert model.score(seqs) == pytest.approx(model.score(flat, lengths))
    equal = rng.integers(0, M, (3, 7))  # a (B, T) batch without a mask
    assert model.score_samples(equal).shape == (3,)
    assert model.score(equal) == pytest.approx(model.score(equal.reshape(-1), [7, 7, 7]))


def test_map_decoding_is_the_posterior_argmax():
    p = random_params(9)
    model = make("categorical", p)
    X = np.random.default_rng(10).integers(0, M, 50)
    lp, states = model.decode(X, algorithm="map")
    post = model.predict_proba(X)
    np.testing.assert_array_equal(states.numpy(), post.argmax(1).numpy())
    assert lp == pytest.approx(float(torch.log(post.max(1).values).sum()))
    with pytest.raises(ValueError, match="algorithm must be 'viterbi' or 'map'"):
        model.decode(X, algorithm="beam")


def test_decode_emissions_with_unary_and_pair_scores_equals_enumeration():
    p = random_params(28, order=2, K=3)
    model = make("categorical", p, order=2)
    X = np.array([0, 4, 2, 2, 5, 1, 3])
    lengths = [4, 1, 2]
    # unary scores log p(x_t | z_t) give the same path as predict()
    unary = np.log(p["emissionprob_"][:, X].T)  # (N, K)
    np.testing.assert_array_equal(
        model.decode_emissions(unary, lengths)[1].numpy(), model.predict(X, lengths).numpy()
    )
    # pair scores s_t(z_{t-1}, z_t): the best path by enumeration, sequence by sequence
    rng = np.random.default_rng(29)
    pair = rng.normal(size=(len(X), 3, 3))
    lp, states = model.decode_emissions(pair, lengths)
    start, total = 0, 0.0
    for T in lengths:
        best, best_z = -np.inf, None
        for z in itertools.product(range(3), repeat=T):
            s = math.log(p["startprob_"][z[0]]) + pair[start, 0, z[0]]
            for t in range(1, T):
                if t == 1:
                    s += math.log(p["transmat_"][z[0], z[1]])
                else:
                    s += math.log(p["transmat2_"][z[t - 2], z[t - 1], z[t]])
                s += pair[start + t, z[t - 1], z[t]]
            if s > best:
                best, best_z = s, z
        assert tuple(states[start : start + T].tolist()) == best_z
        start, total = start + T, total + best
    assert lp.sum().item() == pytest.approx(total, abs=1e-10)
    with pytest.raises(ValueError, match="pair log_emission \\(N, K, K\\) needs order=2"):
        make("categorical", p).decode_emissions(pair, lengths)


# ----------------------------------------------------------------------------- learning
@pytest.mark.parametrize(
    ("emission", "order"), [("categorical", 1), ("gaussian", 1), ("categorical", 2)]
)
def test_baum_welch_log_likelihood_never_decreases(emission, order):
    p = random_params(11, order=order)
    truth = make(emission, p, order=order)
    X, _ = truth.sample_joint(10, length=100, generator=torch.Generator().manual_seed(12))
    X = X.to(torch.float64)
    X[3, 10:20] = np.nan  # missing observations are marginalized in every E-step
    model = HMM(K, emission, order=order, n_iter=15, tol=0.0, covars_prior=0.0, random_state=0)
    model.fit(X)
    h = np.array(model.history_)
    assert len(h) == 15
    assert (np.diff(h) >= -1e-8 * np.abs(h[:-1])).all(), np.diff(h)
    assert h[-1] > h[0]


def test_restarts_keep_the_best_run():
    truth = make("categorical", random_params(13))
    X, _ = truth.sample_joint(5, length=100, generator=torch.Generator().manual_seed(14))
    runs = [HMM(K, n_iter=8, random_state=s).fit(X).history_[-1] for s in range(3)]
    best = HMM(K, n_iter=8, n_init=3, random_state=0).fit(X)
    assert best.history_[-1] == pytest.approx(max(runs))


@pytest.mark.parametrize("order", [1, 2])
def test_supervised_mle_equals_counts(order):
    p = random_params(15, order=order)
    truth = make("categorical", p, order=order)
    X, Z = truth.sample_joint(30, length=40, generator=torch.Generator().manual_seed(16))
    Xn, Zn = X.numpy(), Z.numpy()
    model = HMM(K, order=order).fit(X, labels=Z)
    start = np.bincount(Zn[:, 0], minlength=K)
    trans = np.zeros((K, K))
    trans2 = np.zeros((K, K, K))
    emis = np.zeros((K, M))
    np.add.at(emis, (Zn.ravel(), Xn.ravel()), 1)
    if order == 1:
        np.add.at(trans, (Zn[:, :-1].ravel(), Zn[:, 1:].ravel()), 1)
    else:
        np.add.at(trans, (Zn[:, 0], Zn[:, 1]), 1)
        np.add.at(trans2, (Zn[:, :-2].ravel(), Zn[:, 1:-1].ravel(), Zn[:, 2:].ravel()), 1)
        np.testing.assert_allclose(model.transmat2_.numpy(), rows(trans2), atol=1e-12)
    np.testing.assert_allclose(model.startprob_.numpy(), start / start.sum(), atol=1e-12)
    np.testing.assert_allclose(model.transmat_.numpy(), rows(trans), atol=1e-12)
    np.testing.assert_allclose(model.emissionprob_.numpy(), rows(emis), atol=1e-12)


def rows(counts):
    """Relative frequencies along the last axis; a context never seen gets the uniform row."""
    total = counts.sum(-1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / counts.shape[-1])
    return np.where(total > 0, counts / np.maximum(total, 1), uniform)


def test_supervised_gaussian_is_the_per_state_mean_and_variance():
    truth = make("gaussian", random_params(17))
    X, Z = truth.sample_joint(10, length=50, generator=torch.Generator().manual_seed(18))
    model = HMM(K, "gaussian", covars_prior=0.0).fit(X, labels=Z)
    x, z = X.reshape(-1, D).numpy(), Z.reshape(-1).numpy()
    for k in range(K):
        np.testing.assert_allclose(model.means_[k].numpy(), x[z == k].mean(0), atol=1e-10)
        np.testing.assert_allclose(model.covars_[k].numpy(), x[z == k].var(0), atol=1e-10)


@pytest.mark.parametrize("order", [1, 2])
def test_partially_labelled_statistics_equal_enumeration(order):
    """summarize() with some states known = expected counts under p(z | x, known states)."""
    p = random_params(19, order=order, K=3)
    model = make("categorical", p, order=order)
    x = np.array([0, 3, np.nan, 1, 5])  # step 2 missing: no emission count from it
    lab = np.array([-1, 1, -1, -1, 2])
    stats = model.summarize([x], labels=[lab])
    paths = [z for z in itertools.product(range(3), repeat=5) if z[1] == 1 and z[4] == 2]
    w = np.exp([joint_logprob(p, z, x, "categorical", order) for z in paths])
    w /= w.sum()
    start, trans, emis = np.zeros(3), np.zeros((3, 3)), np.zeros((3, M))
    trans2 = np.zeros((3, 3, 3))
    for z, wz in zip(paths, w, strict=True):
        start[z[0]] += wz
        for t in range(1, 5):
            if order == 2 and t >= 2:
                trans2[z[t - 2], z[t - 1], z[t]] += wz
            else:
                trans[z[t - 1], z[t]] += wz
        for t in range(5):
            if not np.isnan(x[t]):
                emis[z[t], int(x[t])] += wz
    np.testing.assert_allclose(stats["start"].numpy(), start, atol=1e-12)
    np.testing.assert_allclose(stats["trans"].numpy(), trans, atol=1e-12)
    np.testing.assert_allclose(stats["counts"].numpy(), emis, atol=1e-12)
    if order == 2:
        np.testing.assert_allclose(stats["trans2"].numpy(), trans2, atol=1e-12)
    # and EM with those labels keeps them in the decoded path
    fitted = HMM(3, n_iter=5, random_state=0).fit([x, x[::-1]], labels=[lab, lab[::-1]])
    path = fitted.predict([x], labels=[lab])[0]
    assert path[1] == 1 and path[4] == 2


# ----------------------------------------------------------------------------- long sequences
def test_long_sequence_stays_finite():
    """One sequence of 10^5 steps: the scaled recursion neither underflows nor overflows."""
    p = random_params(20)
    for emission in ("categorical", "gaussian"):
        model = make(emission, p)
        X, _ = model.sample_joint(
            100, length=1000, generator=torch.Generator().manual_seed(21)
        )  # data: 100 runs, joined
        X = X.reshape(100_000, *X.shape[2:])
        ll = model.score(X)
        assert math.isfinite(ll) and ll < 0
        # log p(x_1..T) = Σ_t log p(x_t | x_<t): the first 20 000 steps are its prefix
        assert ll / 100_000 == pytest.approx(model.score(X[:20_000]) / 20_000, rel=0.05)
    lp, states = model.decode(X)  # the best path is one term of the sum over paths
    assert math.isfinite(lp) and lp <= ll
    assert states.shape == (100_000,) and int(states.min()) >= 0


@pytest.mark.parametrize("emission", ["categorical", "gaussian"])
def test_long_sequences_take_the_segmented_path_and_match_hmmlearn(emission):
    """Few long sequences run the O(√T)-step recursions; answers equal hmmlearn's."""
    p = random_params(30)
    ref = peer(emission, p)
    lengths = [3001, 3001]
    X, _ = ref.sample(sum(lengths), random_state=31)
    model = make(emission, p)
    assert model.score(X, lengths) == pytest.approx(ref.score(X, lengths), abs=1e-6)
    np.testing.assert_allclose(
        model.predict_proba(X, lengths).numpy(), ref.predict_proba(X, lengths), atol=1e-9
    )
    lp, path = model.decode(X, lengths)
    ref_lp, ref_path = ref.decode(X, lengths)
    assert lp == pytest.approx(ref_lp, abs=1e-6)
    assert (path.numpy() == ref_path).mean() > 0.99  # exact ties aside (see above)
    joint = model.score_samples(X, lengths, labels=path).numpy()
    np.testing.assert_allclose(joint.sum(), ref_lp, atol=1e-6)  # our path is a best path
    ref.init_params, ref.n_iter = "", 1
    ref.params = "ste" if emission == "categorical" else "stmc"
    ref.fit(X, lengths)
    model.n_iter, model.warm_start = 1, True
    model.fit(X, lengths)
    np.testing.assert_allclose(model.transmat_.numpy(), ref.transmat_, atol=1e-10)


@pytest.mark.parametrize("emission", ["categorical", "gaussian"])
def test_blocked_log_likelihood_equals_the_recursion_and_hmmlearn(emission):
    """score() of a few long equal-length sequences multiplies block transfer matrices (no
    loop over time); it equals the step-by-step scaled recursion and hmmlearn to ~1e-12."""
    p = random_params(40)
    ref = peer(emission, p)
    model = make(emission, p)
    model._check_params()
    for lengths in ([30_011], [4001, 4001, 4001]):  # block lengths do not divide T - 1
        X, _ = ref.sample(sum(lengths), random_state=41)
        flat = model._flatten(X, lengths)
        (blocked,) = model._chunks(flat, blocked=True)  # steps in block order
        assert blocked.blocks is not None
        E, _ = model._emissions(blocked)
        ours = loglik_segmented(E, model.startprob_, model.transmat_, *blocked.blocks)
        (plain,) = model._chunks(flat)
        E, _ = model._emissions(plain)
        _, c = forward(E, plain.active, model.startprob_, model.transmat_)
        np.testing.assert_allclose(ours.numpy(), torch.log(c).sum(0).numpy(), rtol=1e-12)
        starts = np.cumsum([0] + lengths)
        theirs = [ref.score(X[a:b]) for a, b in zip(starts[:-1], starts[1:], strict=True)]
        np.testing.assert_allclose(model.score_samples(X, lengths).numpy(), theirs, rtol=1e-12)


def test_blocked_log_likelihood_falls_back_on_near_zero_blocks():
    """A stretch too improbable for an unscaled block (here every step has probability
    1e-200) and an impossible sequence go back to the scaled recursion: exact and -inf."""
    p = random_params(42, K=2, M=3)
    p["emissionprob_"] = np.array([[0.5, 1e-200, 0.5 - 1e-200], [0.3, 1e-200, 0.7 - 1e-200]])
    model = make("categorical", p)
    model._check_params()
    X = np.ones(1000, dtype=int)  # log p(x) = T log 1e-200 whatever the states
    (chunk,) = model._chunks(model._flatten(X), blocked=True)
    E, _ = model._emissions(chunk)
    assert loglik_segmented(E, model.startprob_, model.transmat_, *chunk.blocks) is None
    assert model.score(X) == pytest.approx(1000 * math.log(1e-200), rel=1e-12)
    p["emissionprob_"] = np.array([[0.5, 0.0, 0.5], [0.3, 0.0, 0.7]])  # symbol 1 impossible
    model = make("categorical", p)
    X = np.zeros((2, 500), dtype=int)
    X[1, 250] = 1
    ll = model.score_samples(X).numpy()
    assert ll[1] == -math.inf
    ref = hl.CategoricalHMM(2, n_features=3, implementation="scaling")
    ref.startprob_, ref.transmat_, ref.emissionprob_ = (
        p["startprob_"],
        p["transmat_"],
        p["emissionprob_"],
    )
    assert ll[0] == pytest.approx(ref.score(X[0].reshape(-1, 1)), rel=1e-12)


def test_batched_viterbi_with_many_lengths_equals_hmmlearn():
    """Sequences of many lengths decoded in one padded batch (the backtrack carries ended
    sequences): every path and best log-joint equal hmmlearn's, sequence by sequence."""
    Kb = 7
    p = random_params(43, K=Kb)
    ref = hl.GaussianHMM(Kb, covariance_type="diag", implementation="scaling")
    ref.startprob_, ref.transmat_ = p["startprob_"], p["transmat_"]
    ref.means_, ref.covars_ = p["means_"], p["covars_"]
    lengths = np.random.default_rng(44).integers(1, 80, 30).tolist()
    X, _ = ref.sample(sum(lengths), random_state=45)
    model = make("gaussian", p)
    lp, path = model.decode(X, lengths)
    starts = np.cumsum([0] + lengths)
    total = 0.0
    for a, b in zip(starts[:-1], starts[1:], strict=True):
        ref_lp, ref_path = ref.decode(X[a:b])
        np.testing.assert_array_equal(path[a:b].numpy(), ref_path)
        total += ref_lp
    assert lp == pytest.approx(total, abs=1e-8)


# ----------------------------------------------------------------------------- sampling, graph
def test_sampling_frequencies_match_the_parameters():
    p = random_params(22)
    model = make("categorical", p)
    X, Z = model.sample_joint(50, length=2000, generator=torch.Generator().manual_seed(23))
    z = Z.numpy()
    counts = np.zeros((K, K))
    np.add.at(counts, (z[:, :-1].ravel(), z[:, 1:].ravel()), 1)
    n = counts.sum(1, keepdims=True)
    freq = counts / n
    se = np.sqrt(p["transmat_"] * (1 - p["transmat_"]) / n)
    assert (np.abs(freq - p["transmat_"]) < 5 * se + 1e-12).all()
    emis = np.zeros((K, M))
    np.add.at(emis, (z.ravel(), X.numpy().ravel()), 1)
    n = emis.sum(1, keepdims=True)
    se = np.sqrt(p["emissionprob_"] * (1 - p["emissionprob_"]) / n)
    assert (np.abs(emis / n - p["emissionprob_"]) < 5 * se + 1e-12).all()
    Xg, Zg = make("gaussian", p).sample_joint(
        1, length=30, generator=torch.Generator().manual_seed(1)
    )
    assert Xg.shape == (1, 30, D) and Zg.shape == (1, 30)


def test_network_is_the_unrolled_dag():
    g = make("categorical", random_params(0)).network.dag
    assert set(g.edges) == {
        ("z1", "z2"), ("z2", "z3"), ("z3", "z4"),
        ("z1", "x1"), ("z2", "x2"), ("z3", "x3"), ("z4", "x4"),
    }  # fmt: skip
    assert g.parents("x3") == ("z3",) and g.d_separated("z1", "z3", given="z2")
    g2 = make("gaussian", random_params(0, order=2), order=2).network.dag
    assert set(g2.parents("z3")) == {"z1", "z2"}


def test_emission_distribution_is_a_torch_distribution():
    p = random_params(24)
    model = make("gaussian", p)
    x = torch.randn(5, D, dtype=torch.float64)
    dist = model.emission_distribution
    assert dist.batch_shape == (K,) and dist.event_shape == (D,)
    # log p(x_t | z) through the distribution = the model with one-step sequences, state clamped
    for k in range(K):
        lab = torch.full((5, 1), k)
        joint = model.score_samples(x.unsqueeze(1), labels=lab)
        expected = dist.log_prob(x.unsqueeze(1))[:, k] + math.log(p["startprob_"][k])
        np.testing.assert_allclose(joint.numpy(), expected.numpy(), atol=1e-10)


def test_float32_and_module_state():
    p = random_params(25)
    model = make("categorical", p, dtype=torch.float32)
    X = np.random.default_rng(26).integers(0, M, 300)
    ref = make("categorical", p)
    assert model.score(X) == pytest.approx(ref.score(X), rel=1e-5)
    assert model.startprob_.dtype == torch.float32
    assert {"startprob_", "transmat_", "emissionprob_"} <= set(model.state_dict())


# ----------------------------------------------------------------------------- bad input
def test_bad_input_errors():
    p = random_params(27)
    model = make("categorical", p)
    with pytest.raises(ValueError, match="unknown symbol 6 at X\\[2\\].*n_features=6"):
        model.score([0, 1, 6, 2])
    with pytest.raises(ValueError, match="symbols >= 0"):
        model.score([0, -1, 2])
    with pytest.raises(ValueError, match="integer symbols.*X\\[1\\] is 1.5"):
        model.score(np.array([0, 1.5]))
    with pytest.raises(ValueError, match="lengths must be positive; sequence 1 has length 0"):
        model.score([0, 1, 2], lengths=[3, 0])
    with pytest.raises(ValueError, match="lengths must sum to len\\(X\\)=3"):
        model.score([0, 1, 2], lengths=[2, 2])
    with pytest.raises(ValueError, match="X is empty"):
        model.score(np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match="empty sequence: X\\[1\\]"):
        model.score([[0, 1], []])
    with pytest.raises(ValueError, match="empty sequence: mask row 0"):
        model.score(np.zeros((2, 3), dtype=int), mask=np.array([[0, 0, 0], [1, 1, 0]], bool))
    with pytest.raises(ValueError, match="mask rows must be True on a prefix"):
        model.score(np.zeros((1, 3), dtype=int), mask=np.array([[1, 0, 1]], bool))
    with pytest.raises(ValueError, match="must be \\(n_samples,\\)"):
        model.score(np.zeros((2, 3, 4), dtype=int))
    with pytest.raises(ValueError, match="labels must be states in 0..3 or -1"):
        model.score([0, 1], labels=[0, 4])
    with pytest.raises(TypeError, match="X must be numeric"):
        model.score(np.array(["a", "b"]))
    g = make("gaussian", p)
    with pytest.raises(ValueError, match="X must be finite.*X\\[1\\] holds inf"):
        g.score(np.array([[0.0, 1, 2], [np.inf, 0, 0]]))
    with pytest.raises(ValueError, match="X has 2 features per step, but n_features=3"):
        g.score(np.zeros((4, 2)))
    bad = make("categorical", p)
    bad.startprob_ = np.array([np.nan, 0.5, 0.25, 0.25])
    with pytest.raises(ValueError, match="startprob_ must be finite"):
        bad.score([0, 1])
    bad = make("categorical", p)
    bad.transmat_ = np.full((K, K), 0.2)
    with pytest.raises(ValueError, match="transmat_ rows must sum to 1.*row \\(0,\\) sums to 0.8"):
        bad.score([0, 1])
    bad = make("categorical", p, n_features=M)
    bad.emissionprob_ = np.full((K, 5), 0.2)
    with pytest.raises(ValueError, match="emissionprob_ must have shape \\(4, 6\\)"):
        bad.score([0, 1])
    with pytest.raises(ValueError, match="call fit\\(\\) or set the parameters"):
        HMM(3).score([0, 1])
    with pytest.raises(ValueError, match="emission must be one of"):
        HMM(3, "poisson")
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        HMM(3, order=3)
    with pytest.raises(ValueError, match="n_components must be a positive integer"):
        HMM(0)
    zero = make("categorical", p)
    zero.emissionprob_ = np.eye(K, M)  # state k emits only symbol k
    zero.transmat_ = np.eye(K)  # and never changes
    with pytest.raises(ValueError, match="sequence 0 has probability 0 under the model at step 1"):
        zero.summarize([0, 1])
    assert zero.score([0, 1]) == -math.inf


@pytest.mark.parametrize("emission", ["categorical", "gaussian"])
def test_emissions_are_objects(emission):
    """An Emission object and its name fit the same model; unknown names are refused."""
    from bayesgen.models.hmm.emissions import Emission, make_emission

    obj = make_emission(emission)
    assert isinstance(obj, Emission) and obj.name == emission and make_emission(obj) is obj
    p = random_params(51)
    X = make(emission, p).sample(4, length=30, generator=torch.Generator().manual_seed(52))
    a = HMM(K, emission, n_iter=5, random_state=0).fit(X)
    b = HMM(K, obj, n_iter=5, random_state=0).fit(X)
    assert b.emission == emission
    torch.testing.assert_close(a.score_samples(X), b.score_samples(X), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"emission must be one of .*got 'poisson'"):
        HMM(K, "poisson")
