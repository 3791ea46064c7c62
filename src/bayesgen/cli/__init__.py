"""The ``bayesgen`` command: one sub-command per module of this package.

Each sub-command module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning an exit status. Only the module
of the sub-command being run is imported (``bayesgen --help`` imports none, so it starts at
once). Errors a user can cause (``ValueError`` and its subclasses such as
:class:`bayesgen.errors.MemoryBudgetError`, ``KeyError``, ``TypeError``, ``OSError``) are
printed as one line on stderr with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from importlib import import_module

__all__ = ["main", "build_parser"]

#: sub-command -> its one-line help (the full parser is built only for the command run)
COMMANDS = {
    "query": "exact posterior P(targets | evidence), most probable explanation",
    "sample": "draw samples from a network (CSV) or from a trained model (RUN)",
    "show": "describe a network; --plot draws its graph",
    "fit": "learn a network's probabilities from a CSV",
    "tag": "part-of-speech tagging with a hidden Markov model (train, evaluate, tag text)",
    "train": "train a generative model (vae, flow, arm, diffusion, energy, gan) on data",
    "evaluate": "score a trained model on held-out data",
    "tour": "run the chapter on built-in data and write a report",
}


def _wanted(argv: Sequence[str] | None) -> str | None:
    """The sub-command named in ``argv`` (the first word that is one), or None."""
    if argv is None:
        return None
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the sub-command it names is imported and fully built."""
    parser = argparse.ArgumentParser(
        prog="bayesgen",
        description="Bayesian networks, from the student network to neural generative models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = _wanted(argv)
    for name, text in COMMANDS.items():
        if argv is not None and name != wanted:
            sub.add_parser(name, help=text)  # listed in the help; never run
            continue
        try:
            module = import_module(f".{name}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
            continue
        module.register(sub)
        if name in sub.choices:
            _plain_help(sub.choices[name])
    return parser


#: reStructuredText roles and literals of docstrings reused as help: ``x``, :func:`x`, `x`_
_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def _plain(text: str | None) -> str | None:
    """Help text without reStructuredText markup (a docstring reused as a description)."""
    if not text:
        return text
    return _LITERAL.sub(r"'\1'", _ROLE.sub(r"\1", text))


def _plain_help(parser: argparse.ArgumentParser) -> None:
    parser.description = _plain(parser.description)
    for action in parser._actions:
        action.help = _plain(action.help)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, TypeError, OSError, LookupError) as err:
        print(f"bayesgen {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            f"bayesgen {args.command}: error: out of memory; the request is too large for "
            "this machine",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


def _one_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"  # not "[Errno 21] Is a directory: 'd'"
    message = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return " ".join(lines) if lines else type(err).__name__
