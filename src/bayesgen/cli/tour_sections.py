"""The classic sections of ``bayesgen tour``, in the chapter's order: each runs one part of the
chapter and returns a :class:`~bayesgen.cli.report.Section` (a line on what was computed and on
what data, prose, tables, figures numbered as in the chapter). All run on built-in or generated
data; two read real corpora from a data folder when one is given (Tiny Shakespeare, UD
English-EWT) and say so when it is not.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import torch

from .report import Figure, ResultTable, Section, save_figure

__all__ = ["SECTIONS"]


def _draw_dag(graph, path: Path, **kwargs) -> str:
    from ..plot import draw_dag

    return save_figure(draw_dag(graph, **kwargs), path)


def _cpt_rows(net) -> list[tuple[str, str, tuple[int, ...]]]:
    """(name, variable, index into the variable's ``probs``) of every free parameter
    p(v=1 | parents) of a network of binary tables."""
    rows = []
    for v in net.order:
        f = net.factors[v]
        parents = list(f.parent_names)
        for config in itertools.product(*(range(net.variables[p].card) for p in parents)):
            given = ", ".join(f"{p}={c}" for p, c in zip(parents, config, strict=True))
            rows.append((f"p({v}=1 | {given})" if given else f"p({v}=1)", v, (*config, 1)))
    return rows


_MEANING = {
    "x1": "the student studies",
    "x2": "answers the theory questions right",
    "x3": "answers the practice questions right",
    "x4": "passes the course",
}


def student_section(out: Path, data: Path | None) -> Section:
    """§2.1.1: the student network answers the chapter's questions and draws its DAG."""
    from ..examples import student

    net = student()
    variables = ResultTable(
        "The variables (binary, 1 = yes) and their factors",
        ["variable", "meaning", "parents", "free parameters"],
        [
            [v, _MEANING[v], ", ".join(net.factors[v].parent_names) or "—",
             (net.variables[v].card - 1)
             * math.prod(net.variables[p].card for p in net.factors[v].parent_names)]
            for v in net.order
        ],
    )  # fmt: skip
    cpt = ResultTable(
        "The chapter's conditional probability tables",
        ["parameter", "value"],
        [[name, float(net.factors[v].probs[idx])] for name, v, idx in _cpt_rows(net)],
    )
    mpe = net.mpe()
    questions = [
        ("Does the student get the theory right?", "P(x2)", ("1",), "0.695"),
        ("Did the student study, given the theory was wrong?", "P(x1 | x2=0)", ("1",), "≈ 0.74"),
        ("Are theory and practice both right?", "P(x2, x3)", ("1", "1"), "0.546"),
        ("Is the practice right, given the theory was right?", "P(x3 | x2=1)", ("1",), "≈ 0.79"),
        ("Does the student pass?", "P(x4)", ("1",), "—"),
    ]
    rows = []
    for question, q, state, chapter in questions:
        post = net.query(q)
        event = ", ".join(f"{v}={s}" for v, s in zip(post.variables, state, strict=True))
        cond = q.partition("|")[2].rstrip(")").strip()
        rows.append([question, f"P({event}{' | ' + cond if cond else ''})", float(post[state])])
        rows[-1].append(chapter)
    assignment = ", ".join(f"{k}={s}" for k, s in mpe.labels.items())
    rows.append(["The most probable joint state", f"P({assignment})", float(mpe.prob), "—"])
    answers = ResultTable(
        "The chapter's questions answered by exact inference",
        ["question", "probability", "computed", "chapter"],
        rows,
    )
    dsep = []
    for xs, ys, zs in (("x3", "x2", ["x1"]), ("x4", "x1", ["x2", "x3"]), ("x2", "x3", [])):
        sep = net.d_separated(xs, ys, zs)
        given = f" | {', '.join(zs)}" if zs else ""
        reading = (
            f"{xs} and {ys} are independent{' given ' + ', '.join(zs) if zs else ''}"
            if sep
            else f"{xs} and {ys} can depend on each other{' given ' + ', '.join(zs) if zs else ''}"
        )
        dsep.append([f"{xs} ⊥ {ys}{given}", "yes" if sep else "no", reading])
    separation = ResultTable(
        "Conditional independences read off the DAG", ["statement", "d-separated", "so"], dsep
    )
    fig = _draw_dag(net.dag, out / "student.png")
    return Section(
        "The student network (§2.1.1)",
        f"Exact inference (variable elimination) on the chapter's student network: "
        f"{len(net.order)} binary variables, {net.num_parameters()} free parameters (the full "
        f"joint table would need {net.full_joint_parameters()}); no data.",
        "The probability that a student passes a course is modelled from whether they studied "
        "and how they did in the theory and practice questions. Every answer below is a sum "
        "over the factorized joint p(x1) p(x2 | x1) p(x3 | x1) p(x4 | x2, x3).",
        figures=[
            Figure(
                fig,
                "The Bayesian network of the student example: x1 (studies) → x2 (theory right), "
                "x1 → x3 (practice right), and x2, x3 → x4 (passes).",
                "1",
            )
        ],
        tables=[variables, cpt, answers, separation],
    )


def learning_section(out: Path, data: Path | None) -> Section:
    """§2.3-2.4: the student tables learnt back from 5,000 ancestral samples, by maximum
    likelihood, with a BDeu prior, and by EM with x1 hidden in 30% of the rows."""
    from copy import deepcopy

    from ..examples import student
    from ..learning import BDeu

    true = student()
    rows = true.sample(5000, seed=0, as_frame=True)
    fits = {"MLE": deepcopy(true).fit(rows), "BDeu(10)": deepcopy(true).fit(rows, prior=BDeu(10))}
    hidden = rows.copy()
    hidden.loc[hidden.sample(frac=0.3, random_state=0).index, "x1"] = None
    fits["EM, x1 hidden in 30%"] = deepcopy(true).fit(hidden)
    table = []
    for name, v, idx in _cpt_rows(true):
        table.append(
            [name, float(true.factors[v].probs[idx])]
            + [float(net.factors[v].probs[idx]) for net in fits.values()]
        )
    errs = [
        max(float((net.factors[v].probs - true.factors[v].probs).abs().max()) for v in true.order)
        for net in fits.values()
    ]
    table.append(["largest |θ̂ − θ|", "—", *errs])
    return Section(
        "Learning the tables back (§2.3, §2.4)",
        "The student network's 9 parameters estimated from 5,000 rows sampled ancestrally from "
        "it: maximum likelihood, the posterior mean under a BDeu(10) prior, and EM with x1 "
        "hidden in 30% of the rows.",
        "With complete data the maximum-likelihood table is the normalized counts; the BDeu prior "
        "adds pseudo-counts; with x1 missing, EM alternates the posterior of x1 given the rest "
        "of the row with re-estimating the tables from expected counts. The standard error of a "
        "parameter estimated from n rows is about √(θ(1 − θ)/n), 0.004 to 0.02 here.",
        tables=[ResultTable("True and estimated parameters", ["parameter", "true", *fits], table)],
    )


def mixture_section(out: Path, data: Path | None) -> Section:
    """§2.1.3.1: a Gaussian mixture z -> x fitted by EM; BIC picks the number of components."""
    from ..models import GaussianMixture
    from ..plot import draw_dag, plot_mixture_density

    g = torch.Generator().manual_seed(0)
    z = torch.rand(3000, generator=g) < 0.3
    x = torch.where(
        z, torch.randn(3000, generator=g) * 0.5 - 2, torch.randn(3000, generator=g) + 1.5
    )
    X = x.double().unsqueeze(1)  # (3000, 1)
    models = {k: GaussianMixture(k, random_state=0, n_init=3).fit(X) for k in (1, 2, 3, 4)}
    bic = {k: float(m.bic(X)) for k, m in models.items()}
    k_best = min(bic, key=bic.get)
    best = models[k_best]
    selection = ResultTable(
        "Model selection by BIC = −2 log p(X) + (free parameters) log N",
        ["K", "BIC", "mean log-likelihood", "chosen"],
        [[k, bic[k], float(m.score(X)), "✓" if k == k_best else ""] for k, m in models.items()],
    )
    params = []
    if k_best == 2:
        order = torch.argsort(best.means_[:, 0])  # the component with the smaller mean first
        w, mu = best.weights_[order], best.means_[order, 0]
        sd = best.covariances_.reshape(best.n_components, -1)[order, 0].sqrt()
        for i, (tw, tm, ts) in enumerate(((0.3, -2.0, 0.5), (0.7, 1.5, 1.0))):
            params.append([f"z={i}", tw, float(w[i]), tm, float(mu[i]), ts, float(sd[i])])
    tables = [selection]
    if params:
        tables.append(
            ResultTable(
                "The chosen mixture's components against the true ones",
                ["component", "true w", "learnt w", "true μ", "learnt μ", "true σ", "learnt σ"],
                params,
            )
        )
    dag = save_figure(draw_dag(best.network, observed=["x"]), out / "mixture_dag.png")
    ax = plot_mixture_density(best, X)
    ax.figure.set_size_inches(8, 4.5)
    density = save_figure(ax, out / "mixture.png")
    return Section(
        "A Gaussian mixture (§2.1.3.1)",
        "EM fits of 1-D Gaussian mixtures with K = 1, …, 4 components (3 restarts each) to 3,000 "
        "points sampled from 0.3 N(−2, 0.5²) + 0.7 N(1.5, 1); BIC chooses K.",
        "A mixture draws a component z from a categorical distribution and then x from that "
        "component: p(x) = Σₖ p(z = k) N(x; μₖ, σₖ²).",
        figures=[
            Figure(
                dag,
                "The DAG of a mixture: the latent component z → the observation x (shaded).",
                "2",
            ),
            Figure(
                density,
                f"The mixture chosen by BIC (K = {k_best}) over a histogram of the 3,000 points; "
                "dashed: its weighted components.",
            ),
        ],
        tables=tables,
    )


def naive_bayes_section(out: Path, data: Path | None) -> Section:
    """§2.1.3.2: a Gaussian Naive Bayes classifier learnt back from its own samples and
    compared with the Bayes classifier that knows the true parameters."""
    from torch.distributions import Normal

    from ..models import NaiveBayes

    prior = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    mu = torch.tensor([[0.0, 0.0, 0.0], [1.5, 1.0, -0.5], [0.0, 2.0, 1.5]], dtype=torch.float64)
    sd = torch.tensor([[1.0, 1.0, 1.0], [0.8, 1.2, 1.0], [1.2, 0.7, 0.9]], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    n_train, n_test = 2000, 2000
    y = torch.multinomial(prior, n_train + n_test, replacement=True, generator=g)  # (N,)
    x = mu[y] + sd[y] * torch.randn(len(y), 3, generator=g, dtype=torch.float64)  # (N, 3)
    nb = NaiveBayes("gaussian").fit(x[:n_train], y[:n_train])
    x_test, y_test = x[n_train:], y[n_train:]
    # the Bayes classifier: argmax_c log p(c) + Σ_d log N(x_d; μ_cd, σ_cd²)
    joint = prior.log() + Normal(mu, sd).log_prob(x_test[:, None, :]).sum(-1)  # (B, C)
    bayes = joint.argmax(1)
    learnt = torch.as_tensor(nb.predict(x_test))
    accuracy = ResultTable(
        f"Accuracy on {n_test:,} test rows",
        ["classifier", "accuracy"],
        [
            [
                f"Naive Bayes learnt from {n_train:,} rows",
                float((learnt == y_test).double().mean()),
            ],
            ["Bayes classifier (true parameters)", float((bayes == y_test).double().mean())],
            ["agreement of the two", float((learnt == bayes).double().mean())],
        ],
    )
    cp = nb.class_prior_
    prior_table = ResultTable(
        "The class prior p(y)",
        ["class", "true", "learnt"],
        [[f"y={c}", float(prior[c]), float(cp[c])] for c in range(3)],
    )
    features = ResultTable(
        "The features' factors p(x_d | y) = N(x_d; μ, σ²)",
        ["class", "feature", "true μ", "learnt μ", "true σ", "learnt σ"],
        [
            [f"y={c}", f"x{d + 1}", float(mu[c, d]), float(nb.theta_[c, d]), float(sd[c, d]),
             float(nb.var_[c, d].sqrt())]
            for c, d in itertools.product(range(3), range(3))
        ],
    )  # fmt: skip
    fig = _draw_dag(nb.network, out / "naive_bayes_dag.png")
    return Section(
        "Naive Bayes (§2.1.3.2)",
        f"A Gaussian Naive Bayes classifier (3 classes, 3 features) fitted in closed form to "
        f"{n_train:,} rows sampled from known parameters, tested on {n_test:,} more.",
        "Naive Bayes assumes the features are independent given the class, p(x, y) = p(y) "
        "Π_d p(x_d | y), and classifies by Bayes' rule, p(y | x) ∝ p(x, y). The data here "
        "follow that assumption, so the learnt classifier approaches the best possible one.",
        figures=[Figure(fig, "The DAG of the Naive Bayes classifier: y → x1, x2, x3.", "3")],
        tables=[accuracy, prior_table, features],
    )


def markov_section(out: Path, data: Path | None) -> Section:
    """§2.1.3.3: a homogeneous Markov chain's transition matrix learnt back from its samples."""
    from ..models import MarkovChain

    states = ["sunny", "cloudy", "rainy"]
    P = torch.tensor(
        [[0.7, 0.2, 0.1], [0.3, 0.4, 0.3], [0.2, 0.3, 0.5]], dtype=torch.float64
    )  # P[i, j] = p(x_{t+1} = j | x_t = i)
    true = MarkovChain(3)
    true.n_states_ = 3
    true.from_summaries(torch.ones(3, dtype=torch.float64), P)  # rows already sum to one
    train = true.sample(200, length=50, generator=torch.Generator().manual_seed(0))  # (200, 50)
    test = true.sample(200, length=50, generator=torch.Generator().manual_seed(1))
    learnt = MarkovChain(3).fit(train)
    trans = [
        [states[i], states[j], float(P[i, j]), float(learnt.transition_matrix_[i, j]),
         int(learnt.transition_counts_[i, j])]
        for i, j in itertools.product(range(3), range(3))
    ]  # fmt: skip
    pi_true, pi_learnt = true.stationary_distribution(), learnt.stationary_distribution()
    freq = torch.bincount(train.reshape(-1), minlength=3).double() / train.numel()
    stationary = [
        [states[i], float(pi_true[i]), float(pi_learnt[i]), float(freq[i])] for i in range(3)
    ]
    steps = test.shape[0] * (test.shape[1] - 1)
    nll = [
        ["true chain", float(-true.log_prob(test).sum() / test.numel())],
        ["learnt chain", float(-learnt.log_prob(test).sum() / test.numel())],
    ]
    fig = _draw_dag(learnt.network, out / "markov_dag.png")
    return Section(
        "A Markov chain (§2.1.3.3)",
        f"The transition matrix of a 3-state weather chain estimated by maximum likelihood "
        f"(normalized transition counts) from 200 sampled sequences of 50 days; scored on 200 "
        f"more ({steps:,} transitions).",
        "A first-order chain assumes the future is independent of the past given the present, "
        "p(xₜ₊₁ | x₁, …, xₜ) = p(xₜ₊₁ | xₜ), with one transition matrix shared by every "
        "step (a homogeneous chain).",
        figures=[
            Figure(
                fig, "The DAG of a Markov chain, unrolled over four steps: x1 → x2 → x3 → x4.", "4"
            )
        ],
        tables=[
            ResultTable(
                "Transition probabilities p(xₜ₊₁ | xₜ)",
                ["from", "to", "true", "learnt", "transitions seen"],
                trans,
            ),
            ResultTable(
                "Stationary distribution π = π P",
                ["state", "true π", "learnt π", "frequency in the data"],
                stationary,
            ),
            ResultTable("Held-out negative log-likelihood, nats per day", ["model", "NLL"], nll),
        ],
    )


def ngram_section(out: Path, data: Path | None) -> Section:
    """§2.1.3.3: character n-gram models of Tiny Shakespeare (first 90% train, last 10%
    validation), Kneser–Ney smoothing, NLL for orders 1..6."""
    title = "Character n-grams of Tiny Shakespeare (§2.1.3.3)"
    path = None if data is None else data / "text" / "tinyshakespeare.txt"
    if path is None or not path.exists():
        return Section(title, _no_data(data, "text/tinyshakespeare.txt"))
    from ..data.text import read_text, train_val_split
    from ..models import NGramLM

    train, val = train_val_split(read_text(path))
    rows = []
    for k in range(1, 7):
        lm = NGramLM(order=k, eos=False).fit([train])  # Kneser–Ney
        nll = lm.cross_entropy([val])
        rows.append([k, k - 1, nll, nll / math.log(2)])
    text = "".join(
        lm.sample(length=300, generator=torch.Generator().manual_seed(0), prompt="ROMEO:\n")[0]
    )
    return Section(
        title,
        f"Character n-gram models of orders 1 to 6 with Kneser–Ney smoothing, counted on the "
        f"first 90% of Tiny Shakespeare ({len(train):,} characters) and scored on the last 10% "
        f"({len(val):,}).",
        "An n-gram is a Markov chain of order n − 1 over characters: each character depends on "
        "the n − 1 before it. Longer contexts predict better until the counts become too sparse.",
        tables=[
            ResultTable(
                "Validation negative log-likelihood",
                ["n", "Markov order", "nats/char", "bits/char"],
                rows,
            ),
            ResultTable("A sample of the 6-gram model", ["after 'ROMEO:'"], [[text]]),
        ],
    )


def hmm_section(out: Path, data: Path | None) -> Section:
    """§2.1.3.4: the occasionally dishonest casino, an HMM learnt back by Baum–Welch."""
    from ..models import HMM

    casino = HMM(2, "categorical", n_features=6)
    casino.startprob_ = torch.tensor([0.5, 0.5], dtype=torch.float64)
    casino.transmat_ = torch.tensor([[0.95, 0.05], [0.10, 0.90]], dtype=torch.float64)
    loaded = [0.1] * 5 + [0.5]
    casino.emissionprob_ = torch.tensor([[1 / 6] * 6, loaded], dtype=torch.float64)
    X, Z = casino.sample_joint(
        20, length=300, generator=torch.Generator().manual_seed(0)
    )  # (20, 300, 1), (20, 300)
    fitted = HMM(2, "categorical", n_iter=200, n_init=4, random_state=0).fit(X)
    _, path = casino.decode(X)
    _, guess = fitted.decode(X)
    # the learnt states are the true ones up to a permutation: the loaded die favours the six
    perm = torch.argsort(fitted.emissionprob_[:, 5])  # perm[k]: the learnt state of true state k
    inverse = torch.argsort(perm)
    A = fitted.transmat_[perm][:, perm]
    B = fitted.emissionprob_[perm]
    names = ["fair", "loaded"]
    trans = [
        [names[i], names[j], float(casino.transmat_[i, j]), float(A[i, j])]
        for i, j in itertools.product(range(2), range(2))
    ]
    emission = [
        [face + 1, float(casino.emissionprob_[0, face]), float(B[0, face]),
         float(casino.emissionprob_[1, face]), float(B[1, face])]
        for face in range(6)
    ]  # fmt: skip
    scores = [
        ["true parameters", float(casino.score(X)), float((path == Z).double().mean())],
        ["learnt by Baum–Welch", float(fitted.score(X)),
         float((inverse[guess] == Z).double().mean())],
    ]  # fmt: skip
    fig = _draw_dag(casino.network, out / "hmm_dag.png", observed=[f"x{t}" for t in range(1, 5)])
    return Section(
        "A hidden Markov model (§2.1.3.4)",
        "Baum–Welch (EM, 4 restarts) on 20 sequences of 300 rolls sampled from the occasionally "
        "dishonest casino (a fair die and a loaded one), then Viterbi decoding of the dice.",
        "The hidden state zₜ (which die is in use) is a Markov chain; each roll xₜ depends only "
        "on zₜ. The learnt states are matched to the true ones by the probability of a six.",
        figures=[
            Figure(
                fig,
                "The DAG of a hidden Markov model over four steps: the hidden chain z1 → z2 → z3 → "
                "z4, and each zt → xt (the observations, shaded).",
                "5",
            )
        ],
        tables=[
            ResultTable("Fit and decoding", ["parameters", "log p(X)", "Viterbi accuracy"], scores),
            ResultTable(
                "Transition probabilities p(zₜ₊₁ | zₜ)", ["from", "to", "true", "learnt"], trans
            ),
            ResultTable(
                "Emission probabilities p(xₜ | zₜ)",
                ["face", "fair, true", "fair, learnt", "loaded, true", "loaded, learnt"],
                emission,
            ),
        ],
    )


def tagger_section(out: Path, data: Path | None) -> Section:
    """§2.1.3.4: the part-of-speech HMM trained on UD English-EWT train, scored on test."""
    title = "A part-of-speech HMM (§2.1.3.4)"
    root = None if data is None else data / "ud" / "UD_English-EWT"
    if root is None or not root.exists():
        return Section(title, _no_data(data, "ud/UD_English-EWT"))
    from ..data.conllu import read_conllu
    from ..models import HMMTagger

    train = read_conllu(root / "en_ewt-ud-train.conllu")
    tagger = HMMTagger().fit(train)
    r = tagger.evaluate(read_conllu(root / "en_ewt-ud-test.conllu"))
    sentence = "I saw her duck with a telescope .".split()
    tags = tagger.predict([sentence])[0]
    # its Bayesian network: TnT without the lexical factors and the emission smoothing (with
    # them the score is no normalized joint), on the same counts
    fig = _draw_dag(
        tagger.with_options(smoothing=0, lexical_weight=0).network.dag,
        out / "tagger_dag.png",
        observed=[f"w{i}" for i in range(1, 5)] + ["end"],
    )
    return Section(
        title,
        f"A lexicalized trigram HMM tagger counted on the {len(train):,} sentences of UD "
        f"English-EWT train and scored on its test set ({r['n_tokens']:,} tokens).",
        "The tags are the hidden chain and the words the observations; Viterbi decoding finds "
        "the most probable tag sequence of a sentence.",
        figures=[
            Figure(
                fig,
                "The Bayesian network of the trigram HMM tagger over four words: tₜ₋₂, tₜ₋₁ → "
                "tₜ → wₜ, and the sentence end after t4 (the words and the end, shaded, are "
                "observed). The lexical factors that raise the accuracy (wₜ₋₁ → tₜ, tₜ₋₁ → wₜ) "
                "are log-ratios, not probabilities, so they are not part of it.",
            )
        ],
        tables=[
            ResultTable(
                "Tagging accuracy on EWT test",
                ["words", "accuracy"],
                [
                    ["all", float(r["accuracy"])],
                    ["seen in training", float(r["known_accuracy"])],
                    ["unseen in training", float(r["unknown_accuracy"])],
                ],
            ),
            ResultTable("A sentence tagged", ["word", *sentence], [["tag", *tags]]),
        ],
    )


def kde_section(out: Path, data: Path | None) -> Section:
    """§2.2.1: figures 6 and 7, kernel density estimates of 5 points in D = 1 and D = 2."""
    import matplotlib.pyplot as plt

    from ..plot import plot_kde_1d, plot_kde_2d

    one = save_figure(plot_kde_1d(), out / "kde_1d.png")
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.5), layout="constrained")
    plot_kde_2d(axes=axes)
    two = save_figure(fig, out / "kde_2d.png")
    return Section(
        "Kernel density estimation (§2.2.1)",
        "Gaussian kernel density estimates of 5 points drawn uniformly on [0, 1] (D = 1) and on "
        "[0, 1]² (D = 2), at three bandwidths each.",
        "KDE(x) = (1/K) Σₖ N(x; xᵏ, h² I) puts a Gaussian bump on each data point: a small h "
        "puts a spike on each point (overfitting), a large h one broad bump (underfitting).",
        figures=[
            Figure(one, "KDE in D = 1, at bandwidths h = 0.03, 0.1 and 0.3.", "6"),
            Figure(
                two,
                "KDE in D = 2 (the data in red) at h = 0.05, 0.2 and 0.5: the radial kernel gives "
                "circular level sets.",
                "7",
            ),
        ],
    )


def info_section(out: Path, data: Path | None) -> Section:
    """§2.4.3.2: figure 16, one Gaussian fitted to a bimodal target by forward and reverse KL."""
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    from ..info import fit_gaussian_forward_kl, fit_gaussian_reverse_kl, kl_divergence
    from ..plot import plot_kl_fits

    target = MixtureSameFamily(
        Categorical(torch.tensor([0.5, 0.5], dtype=torch.float64)),
        Normal(torch.tensor([-2.0, 2.0], dtype=torch.float64), torch.tensor([0.6, 0.6])),
    )
    forward, reverse = fit_gaussian_forward_kl(target), fit_gaussian_reverse_kl(target)
    fig = save_figure(plot_kl_fits(target, forward=forward, reverse=reverse), out / "kl_fits.png")
    rows = []
    for name, q, kind in (
        ("arg min_q KL(p ‖ q)", forward, "covers both modes"),
        ("arg min_q KL(q ‖ p)", reverse, "seeks one mode"),
    ):
        kl_pq = kl_divergence(target, q)  # Monte Carlo estimates: value ± stderr
        kl_qp = kl_divergence(q, target)
        rows.append(
            [name, f"N({float(q.mean):.3f}, {float(q.stddev):.3f}²)", kind,
             f"{float(kl_pq.value):.3f} ± {float(kl_pq.stderr):.3f}",
             f"{float(kl_qp.value):.3f} ± {float(kl_qp.stderr):.3f}"]
        )  # fmt: skip
    return Section(
        "Forward and reverse KL (§2.4.3.2)",
        "One Gaussian q fitted to the bimodal p = 0.5 N(−2, 0.6²) + 0.5 N(2, 0.6²) by minimizing "
        "KL(p ‖ q) and KL(q ‖ p); the divergences are Monte Carlo estimates ± standard error.",
        "KL is not symmetric: minimizing KL(p ‖ q) (what maximum likelihood does) makes q cover "
        "every mode of p; minimizing KL(q ‖ p) lets q sit on one mode.",
        figures=[
            Figure(
                fig,
                "The minimizing Gaussian depends on the order of the arguments: mode covering "
                "(left) and mode seeking (right).",
                "16",
            )
        ],
        tables=[
            ResultTable(
                "The two fits, KL in nats",
                ["objective", "q", "behaviour", "KL(p ‖ q)", "KL(q ‖ p)"],
                rows,
            )
        ],
    )


def neural_section(out: Path, data: Path | None) -> Section:
    """§2.4.4: figures 17 and 18, SGD on the mixing weight r of a neural mixture at five
    learning rates, beside the exact maximum-likelihood estimate."""
    from torch.distributions import Categorical, MixtureSameFamily, Normal

    from ..learning import neural_mixture as nm
    from ..plot import plot_density_histogram, plot_learning_rate_sweep

    x = nm.sample_mixture(1000, seed=0)
    (m0, s0), (m1, s1) = nm.COMPONENTS
    p = MixtureSameFamily(
        Categorical(torch.tensor([1 - nm.TRUE_R, nm.TRUE_R], dtype=torch.float64)),
        Normal(torch.tensor([m0, m1], dtype=torch.float64), torch.tensor([s0, s1])),
    )
    density = save_figure(plot_density_histogram(p, x), out / "neural_data.png")
    mle = nm.exact_mle(x)
    sweep = nm.learning_rate_sweep(x)
    fig = plot_learning_rate_sweep(sweep, true_nll=mle.nll, true_value=nm.TRUE_R)
    fig.set_size_inches(10, 2.4 * len(sweep))
    fig.tight_layout()
    curves = save_figure(fig, out / "lr_sweep.png")
    rows = [[f"{lr:g}", float(h["r"][-1]), float(h["loss"][-1])] for lr, h in sweep.items()]
    rows.append(["exact MLE (bisection)", mle.r, mle.nll])
    steps = len(next(iter(sweep.values()))["loss"])
    return Section(
        "Learning a neural factor by SGD (§2.4.4)",
        f"The prior r = sigmoid(θ₀) of the mixture (1 − r) N(−1, 1) + r N(3, 2²) learnt by SGD "
        f"({steps} full-batch steps at each of {len(sweep)} learning rates) from "
        f"{len(x):,} samples drawn with r = {nm.TRUE_R}.",
        f"The exact maximum-likelihood estimate on these samples is r̂ = {mle.r:.4f} ± "
        f"{mle.stderr:.4f} (standard error from the observed information). Whether SGD on the "
        "mean negative log-likelihood reaches it within the steps depends on the learning rate "
        "(figure 18 and the table).",
        figures=[
            Figure(
                density,
                f"The mixture's density with r = {nm.TRUE_R} (curve) over a histogram of the "
                f"{len(x):,} samples drawn by ancestral sampling.",
                "17",
            ),
            Figure(
                curves,
                "Training dynamics of θ₀ for each learning rate: the normalized negative "
                "log-likelihood (left) and the predicted r (right).",
                "18",
            ),
        ],
        tables=[
            ResultTable(
                "Where SGD ends, by learning rate", ["learning rate", "final r", "final NLL"], rows
            )
        ],
    )


def _no_data(data: Path | None, what: str) -> str:
    if data is None:
        return "Skipped: no --data folder was given (see the data folder's README)."
    return f"Skipped: the data folder has no {what} (see the data folder's README)."


SECTIONS = [
    student_section,
    learning_section,
    mixture_section,
    naive_bayes_section,
    markov_section,
    ngram_section,
    hmm_section,
    tagger_section,
    kde_section,
    info_section,
    neural_section,
]
