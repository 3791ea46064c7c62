"""Data sets and readers: the swiss roll and 2-D toys, text corpora, CoNLL-U treebanks."""
