"""Data: the named data sets (:func:`load_dataset`: the chapter's swiss roll, the 2-D toys of
the flow, diffusion and GAN literature, binarized MNIST, scikit-learn's 8×8 digits, Tiny
Shakespeare, the user's own .npy/.csv/.npz files), the readers behind them (plain-text
corpora, CoNLL-U treebanks, idx files) and the batch sources the training loop draws from.
Nothing is downloaded: files are read from a path (``root`` or ``$BAYESGEN_DATA``)."""

from .conllu import Sentence, parse_conllu, read_conllu, write_conllu
from .datasets import DATASETS, Dataset, load_dataset
from .images import data_root, load_digits, load_mnist, read_idx
from .source import BatchSource, TensorData, Windows, binarize
from .swissroll import swiss_roll, swiss_roll_2d, swiss_roll_entropy, swiss_roll_log_prob
from .text import lines, load_corpus, read_text, tokenize, train_val_split
from .toys import TOYS, sample_toy, toy_entropy, toy_log_prob, toy_modes

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
    "Dataset",
    "DATASETS",
    "load_dataset",
    "read_idx",
    "data_root",
    "load_mnist",
    "load_digits",
    "BatchSource",
    "TensorData",
    "Windows",
    "binarize",
    "swiss_roll",
    "swiss_roll_2d",
    "swiss_roll_log_prob",
    "swiss_roll_entropy",
    "TOYS",
    "sample_toy",
    "toy_entropy",
    "toy_log_prob",
    "toy_modes",
]
