"""bayesgen tag: train a part-of-speech HMM on a CoNLL-U treebank, score it, tag raw text.

    bayesgen tag TRAIN.conllu TEST.conllu          train on UPOS, print the accuracy on TEST
    bayesgen tag TRAIN.conllu --save model.json    train and save (JSON)
    bayesgen tag --model model.json [TEST.conllu]  load instead of training
    echo "I saw her duck ." | bayesgen tag --model model.json     tag raw text: word/TAG

Without a TEST file, raw text on standard input (one sentence per line) is tokenized and tagged.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "tag",
        help="part-of-speech tagging with a trigram HMM (train, evaluate, tag text)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "files",
        nargs="*",
        metavar="FILE.conllu",
        help="TRAIN [TEST] CoNLL-U files (with --model: only TEST)",
    )
    p.add_argument("--save", metavar="MODEL.json", help="write the trained model as JSON")
    p.add_argument("--model", metavar="MODEL.json", help="load a model instead of training")
    p.add_argument(
        "--order", type=int, choices=(1, 2), default=2, help="HMM order: 2 = trigram (default)"
    )
    p.add_argument(
        "--unknown",
        choices=("spelling", "suffix"),
        default="spelling",
        help="unknown-word model: log-linear over spelling features (default) or TnT suffixes",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    # the Viterbi recursion runs many small tensor ops per word: one thread is fastest
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace) -> int:
    from ..data.conllu import read_conllu
    from ..models.tagger import HMMTagger
    from ..models.tagger_input import tokenize

    files = list(args.files)
    if args.model:
        if len(files) > 1:
            raise ValueError(f"with --model give at most one TEST file, got {len(files)} files")
        tagger = HMMTagger.load(args.model)
        test = files[0] if files else None
    else:
        if not files:
            raise ValueError("give a TRAIN.conllu file to train on, or --model MODEL.json")
        if len(files) > 2:
            raise ValueError(f"expected TRAIN.conllu [TEST.conllu], got {len(files)} files")
        train = read_conllu(files[0])
        if not train:
            raise ValueError(f"{files[0]}: no sentences")
        tagger = HMMTagger(order=args.order, unknown=args.unknown).fit(train)
        test = files[1] if len(files) > 1 else None
    if args.save:
        tagger.save(args.save)
        print(f"saved {args.save}", file=sys.stderr)
    if test is not None:
        sentences = read_conllu(test)
        if not sentences:
            raise ValueError(f"{test}: no sentences")
        r = tagger.evaluate(sentences)
        n = r["n_tokens"]
        print(
            f"accuracy {r['accuracy']:.4f} ({round(r['accuracy'] * n)}/{n} tokens); "
            f"known words {r['known_accuracy']:.4f}, unknown words {r['unknown_accuracy']:.4f} "
            f"({100 * r['unknown_rate']:.1f}% unknown)"
        )
        return 0
    if args.save and sys.stdin.isatty():
        return 0
    sentences = tokenize(sys.stdin.read())
    if sentences:
        for words, tags in zip(sentences, tagger.predict(sentences), strict=True):
            print(" ".join(f"{w}/{t}" for w, t in zip(words, tags, strict=True)))
    return 0
