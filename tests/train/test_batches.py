"""The minibatch stream and the batch checks."""

from __future__ import annotations

import torch

from bayesgen.train.batches import Stream, bad_row, to_device


def test_step_batches_are_draws_without_replacement_from_one_generator():
    s = Stream(10, 4, by_epoch=False, shuffle=True, gen=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        index = s.next()
        assert torch.equal(index, torch.randperm(10, generator=g)[:4])
        assert len(set(index.tolist())) == 4
    ordered = Stream(10, 4, by_epoch=False, shuffle=False, gen=torch.Generator())
    assert [ordered.next().tolist() for _ in range(3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]


def test_epochs_cover_the_rows_and_report_their_progress():
    s = Stream(10, 4, by_epoch=True, shuffle=True, gen=torch.Generator().manual_seed(1))
    first = [s.next() for _ in range(3)]
    assert [len(i) for i in first] == [4, 4, 2] and s.epoch == 1.0
    assert torch.equal(torch.cat(first).sort().values, torch.arange(10))
    assert not torch.equal(torch.cat([s.next() for _ in range(3)]), torch.cat(first))


def test_bad_rows_are_found_in_tensors_and_column_mappings():
    x = torch.zeros(5, 3)
    assert bad_row(x) is None and bad_row(torch.arange(5)) is None  # integers: nothing to check
    x[3, 1] = float("inf")
    assert bad_row(x) == 3
    cols = {"a": torch.zeros(5), "b": torch.zeros(5, 2)}
    cols["b"][1, 0] = float("nan")
    assert bad_row(cols) == 1
    moved = to_device(cols, torch.device("cpu"))
    assert moved["a"] is cols["a"]  # already there: the same tensor, not a copy
