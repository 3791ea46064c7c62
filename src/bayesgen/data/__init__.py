"""Readers for the real data sets: plain-text corpora (characters or words) and CoNLL-U
treebanks. Nothing is downloaded: every reader takes a path."""

from .conllu import Sentence, parse_conllu, read_conllu, write_conllu
from .text import lines, load_corpus, read_text, tokenize, train_val_split

__all__ = [
    "Sentence",
    "read_conllu",
    "parse_conllu",
    "write_conllu",
    "read_text",
    "tokenize",
    "load_corpus",
    "train_val_split",
    "lines",
]
