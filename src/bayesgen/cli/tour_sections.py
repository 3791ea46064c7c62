"""The sections of ``bayesgen tour``: each runs one part of the chapter and returns its text and
figures. All run on built-in or generated data; the last two read real corpora from a data
folder when one is given (Tiny Shakespeare, UD English-EWT) and say so when it is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

__all__ = ["Section", "SECTIONS"]


class Section(NamedTuple):
    title: str
    text: str
    images: list[str]


def _save(fig_or_ax, path: Path) -> str:
    fig = getattr(fig_or_ax, "figure", fig_or_ax)
    fig.savefig(path, bbox_inches="tight", dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


def student_section(out: Path, data: Path | None) -> Section:
    """§2.1.1: the student network answers its questions and draws its DAG."""
    from ..examples import student
    from .show import describe

    net = student()
    lines = [describe(net), ""]
    for q in ("P(x2)", "P(x1 | x2=0)", "P(x2, x3)", "P(x3 | x2=1)", "P(x4)"):
        lines += [str(net.query(q)), ""]
    lines += [f"most probable joint state: {net.mpe()}", ""]
    for xs, ys, zs in (("x3", "x2", ["x1"]), ("x4", "x1", ["x2", "x3"]), ("x2", "x3", [])):
        verdict = "⊥" if net.d_separated(xs, ys, zs) else "not ⊥"
        given = f" | {', '.join(zs)}" if zs else ""
        lines.append(f"{xs} {verdict} {ys}{given}   (d-separation)")
    net.dag.draw(out / "student.png", title="student network (figure 1)")
    return Section("The student network (§2.1.1)", "\n".join(lines), ["student.png"])


def learning_section(out: Path, data: Path | None) -> Section:
    """§2.1.2: the student tables learnt back from 5,000 ancestral samples, by maximum
    likelihood, with a BDeu prior, and by EM with x1 hidden in 30% of the rows."""
    from copy import deepcopy

    from ..examples import student
    from ..learning import BDeu

    true = student()
    rows = true.sample(5000, seed=0, as_frame=True)
    lines = ["5,000 rows sampled ancestrally from the student network.", ""]
    fits = {"MLE": deepcopy(true).fit(rows), "BDeu(10)": deepcopy(true).fit(rows, prior=BDeu(10))}
    hidden = rows.copy()
    hidden.loc[hidden.sample(frac=0.3, random_state=0).index, "x1"] = None
    fits["EM, x1 missing in 30% of rows"] = deepcopy(true).fit(hidden)
    for name, net in fits.items():
        err = max(
            float((net.factors[v].probs - true.factors[v].probs).abs().max()) for v in true.order
        )
        lines.append(f"{name:32s} largest |θ̂ − θ| over all tables: {err:.4f}")
    lines += ["", "The MLE of p(x4 | x2, x3):", str(fits["MLE"].query("P(x4 | x2=1, x3=1)"))]
    return Section("Learning the tables (§2.1.2)", "\n".join(lines), [])


def kde_section(out: Path, data: Path | None) -> Section:
    """§2.2.1: figures 6 and 7, kernel density estimates of 5 points in D = 1 and D = 2."""
    from ..plot import plot_kde_1d, plot_kde_2d

    plot_kde_1d(path=out / "kde_1d.png")
    plot_kde_2d(path=out / "kde_2d.png")
    import matplotlib.pyplot as plt

    plt.close("all")
    text = (
        "KDE(x) = (1/K) Σ_k N(x; x^k, h² I) on 5 uniform points: a small h puts a spike on each\n"
        "point (overfitting), a large h one broad bump (underfitting)."
    )
    return Section(
        "Kernel density estimation (figures 6 and 7)", text, ["kde_1d.png", "kde_2d.png"]
    )


def mixture_section(out: Path, data: Path | None) -> Section:
    """§2.1.3: a Gaussian mixture z -> x fitted by EM; BIC picks the number of components."""
    from ..models import GaussianMixture
    from ..plot import plot_mixture_density

    g = torch.Generator().manual_seed(0)
    z = torch.rand(3000, generator=g) < 0.3
    x = torch.where(
        z, torch.randn(3000, generator=g) * 0.5 - 2, torch.randn(3000, generator=g) + 1.5
    )
    X = x.double().unsqueeze(1)  # (3000, 1)
    lines = ["3,000 points from 0.3 N(−2, 0.5²) + 0.7 N(1.5, 1).", ""]
    models = {k: GaussianMixture(k, random_state=0, n_init=3).fit(X) for k in (1, 2, 3, 4)}
    for k, m in models.items():
        lines.append(f"K={k}: BIC {m.bic(X):10.1f}   mean log-likelihood {m.score(X):.4f}")
    best = min(models.values(), key=lambda m: m.bic(X))
    lines += ["", f"BIC picks K={best.n_components}: weights {best.weights_.numpy().round(3)}, "
              f"means {best.means_[:, 0].numpy().round(3)}"]  # fmt: skip
    ax = plot_mixture_density(best, X)
    images = [_save(ax, out / "mixture.png")]
    best.network.draw(out / "mixture_dag.png", title="mixture model (z -> x)")
    return Section("A Gaussian mixture (§2.1.3)", "\n".join(lines), images + ["mixture_dag.png"])


def hmm_section(out: Path, data: Path | None) -> Section:
    """§2.1.3: the occasionally dishonest casino, an HMM learnt back by Baum–Welch."""
    from ..models import HMM

    casino = HMM(2, "categorical", n_features=6)
    casino.startprob_ = torch.tensor([0.5, 0.5], dtype=torch.float64)
    casino.transmat_ = torch.tensor([[0.95, 0.05], [0.10, 0.90]], dtype=torch.float64)
    loaded = [0.1] * 5 + [0.5]
    casino.emissionprob_ = torch.tensor([[1 / 6] * 6, loaded], dtype=torch.float64)
    X, Z = casino.sample(300, n_sequences=20, random_state=0)  # (20, 300, 1), (20, 300)
    lines = ["20 sequences of 300 rolls; a fair die (state 0) and a loaded one (state 1).", ""]
    fitted = HMM(2, "categorical", n_iter=200, n_init=4, random_state=0).fit(X)
    _, path = casino.decode(X)
    acc_true = float((path == Z).double().mean())
    _, guess = fitted.decode(X)
    acc = float((guess == Z).double().mean())
    acc = max(acc, 1 - acc)  # the learnt states may be the true ones swapped
    lines += [
        f"log p(X) under the true model {casino.score(X):.1f}, under the learnt one "
        f"{fitted.score(X):.1f}",
        f"Viterbi path matches the true states: {acc_true:.3f} with the true parameters, "
        f"{acc:.3f} with the learnt ones",
        "learnt transition matrix:",
        str(fitted.transmat_.numpy().round(3)),
        "learnt emission probabilities:",
        str(fitted.emissionprob_.numpy().round(3)),
    ]
    casino.network.draw(out / "hmm_dag.png", title="hidden Markov model")
    return Section("A hidden Markov model (§2.1.3)", "\n".join(lines), ["hmm_dag.png"])


def info_section(out: Path, data: Path | None) -> Section:
    """§2.2.2: figure 16, one Gaussian fitted to a bimodal target by forward and reverse KL."""
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    from ..info import fit_gaussian_forward_kl, fit_gaussian_reverse_kl, kl_divergence
    from ..plot import plot_kl_fits

    target = MixtureSameFamily(
        Categorical(torch.tensor([0.5, 0.5], dtype=torch.float64)),
        Normal(torch.tensor([-2.0, 2.0], dtype=torch.float64), torch.tensor([0.6, 0.6])),
    )
    forward, reverse = fit_gaussian_forward_kl(target), fit_gaussian_reverse_kl(target)
    axes = plot_kl_fits(target, forward=forward, reverse=reverse)
    images = [_save(axes[0], out / "kl_fits.png")]
    lines = ["p = 0.5 N(−2, 0.6²) + 0.5 N(2, 0.6²)", ""]
    for name, q, kind in (
        ("arg min_q KL(p ‖ q)", forward, "covers both modes"),
        ("arg min_q KL(q ‖ p)", reverse, "seeks one mode"),
    ):
        kl_pq = kl_divergence(target, q)  # Monte Carlo estimates: value ± stderr
        kl_qp = kl_divergence(q, target)
        lines.append(
            f"{name} = N({float(q.mean):.3f}, {float(q.stddev):.3f}²) {kind}: "
            f"KL(p ‖ q) = {float(kl_pq.value):.3f} ± {float(kl_pq.stderr):.3f}, "
            f"KL(q ‖ p) = {float(kl_qp.value):.3f} ± {float(kl_qp.stderr):.3f} nats"
        )
    return Section("Forward and reverse KL (figure 16)", "\n".join(lines), images)


def neural_section(out: Path, data: Path | None) -> Section:
    """§2.2.2: figure 18, SGD on the mixing weight r of a neural mixture at five learning
    rates, beside the exact maximum-likelihood estimate."""
    from ..learning import neural_mixture as nm
    from ..plot import plot_learning_rate_sweep

    x = nm.sample_mixture(1000, seed=0)
    mle = nm.exact_mle(x)
    sweep = nm.learning_rate_sweep(x)
    fig = plot_learning_rate_sweep(sweep, true_nll=mle.nll, true_value=nm.TRUE_R)
    images = [_save(fig, out / "lr_sweep.png")]
    lines = [f"true r = {nm.TRUE_R}; exact MLE r̂ = {mle.r:.4f} ± {mle.stderr:.4f}", ""]
    for lr, h in sweep.items():
        lines.append(f"lr={lr:<5g} final r = {h['r'][-1]:.4f}   final NLL {h['loss'][-1]:.4f}")
    return Section("Learning a neural factor by SGD (figure 18)", "\n".join(lines), images)


def ngram_section(out: Path, data: Path | None) -> Section:
    """§2.1.3: character n-gram models of Tiny Shakespeare (first 90% train, last 10%
    validation), interpolated Kneser–Ney, NLL for orders 1..6."""
    path = None if data is None else data / "text" / "tinyshakespeare.txt"
    if path is None or not path.exists():
        return Section("Character n-grams of Tiny Shakespeare", _no_data(data, "text"), [])
    from ..data.text import read_text, train_val_split
    from ..models import NGramLM

    train, val = train_val_split(read_text(path))
    lines = [f"{len(train):,} training and {len(val):,} validation characters.", ""]
    for k in range(1, 7):
        lm = NGramLM(order=k, eos=False).fit([train])  # modified Kneser–Ney
        lines.append(f"order {k}: validation NLL {lm.cross_entropy([val]):.4f} nats/char")
    text = "".join(lm.sample(300, seed=0, prompt="ROMEO:\n")[0])
    lines += ["", "a sample of the order-6 model after 'ROMEO:':", text]
    return Section("Character n-grams of Tiny Shakespeare", "\n".join(lines), [])


def tagger_section(out: Path, data: Path | None) -> Section:
    """§2.1.3: the part-of-speech HMM trained on UD English-EWT train, scored on test."""
    root = None if data is None else data / "ud" / "UD_English-EWT"
    if root is None or not root.exists():
        return Section("A part-of-speech HMM", _no_data(data, "ud/UD_English-EWT"), [])
    from ..data.conllu import read_conllu
    from ..models import HMMTagger

    tagger = HMMTagger().fit(read_conllu(root / "en_ewt-ud-train.conllu"))
    r = tagger.evaluate(read_conllu(root / "en_ewt-ud-test.conllu"))
    sentence = "I saw her duck with a telescope .".split()
    lines = [
        f"accuracy on EWT test {r['accuracy']:.4f} ({r['n_tokens']} tokens): known words "
        f"{r['known_accuracy']:.4f}, unknown words {r['unknown_accuracy']:.4f}",
        "",
        " ".join(f"{w}/{t}" for w, t in zip(sentence, tagger.predict([sentence])[0], strict=True)),
    ]
    tagger.network.draw(out / "tagger_dag.png", title="lexicalized trigram HMM tagger")
    return Section("A part-of-speech HMM", "\n".join(lines), ["tagger_dag.png"])


def _no_data(data: Path | None, what: str) -> str:
    where = "no --data folder was given" if data is None else f"{data / what} does not exist"
    return f"skipped: {where} (see the data folder's README)."


SECTIONS = [
    student_section,
    learning_section,
    kde_section,
    mixture_section,
    hmm_section,
    info_section,
    neural_section,
    ngram_section,
    tagger_section,
]
