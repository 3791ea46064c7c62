"""The tour's sections on networks of tables, in the chapter's order: the student network and
its queries, learning it from data, the Gaussian mixture and naive Bayes. Each runs one part of
the chapter and returns a :class:`~bayesgen.cli.report.Section` (a line on what was computed and
on what data, prose, tables, figures numbered as in the chapter), on built-in or generated data.
The sequence models follow in :mod:`.tour_sequences`, densities in :mod:`.tour_densities`.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import torch

from .report import Figure, ResultTable, Section, save_dag, save_figure

__all__ = ["SECTIONS"]


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
    fig = save_dag(net.dag, out / "student.png")
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
    fig = save_dag(nb.network, out / "naive_bayes_dag.png")
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


SECTIONS = [student_section, learning_section, mixture_section, naive_bayes_section]
