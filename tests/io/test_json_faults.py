"""Network JSON files with a wrong field: one error naming the file, the factor or variable and
the field, checked before anything is allocated (never torch's or safetensors' own message)."""

import base64
import json

import pytest
import torch

from bayesgen import BayesNet, Continuous, Discrete, NeuralNormal, Table
from bayesgen.errors import MemoryBudgetError
from bayesgen.io import load, save


@pytest.fixture
def doc(tmp_path):
    a, y = Discrete("a", 2), Continuous("y")
    torch.manual_seed(0)
    net = BayesNet([Table(a, probs=[0.4, 0.6]), NeuralNormal(y, [a], hidden=(4,))])
    return json.loads(save(net, tmp_path / "good.json").read_text())


def _write(tmp_path, doc, change, name="net.json"):
    doc = json.loads(json.dumps(doc))
    change(doc)
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_the_good_file_loads(tmp_path, doc):
    net = load(_write(tmp_path, doc, lambda d: None))
    assert list(net.variables) == ["a", "y"]


def test_huge_hidden_layers_are_refused_before_allocating(tmp_path, doc):
    path = _write(tmp_path, doc, lambda d: d["factors"][1].update(hidden=[200000, 200000]))
    with pytest.raises(MemoryBudgetError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: factor of 'y': the network of field 'hidden' [200000,")
    assert "149.0 GiB" in message and "\n" not in message


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda d: d["factors"][1].update(hidden=[-3]),
            "factor of 'y': field 'hidden' must be a list of positive ints",
        ),
        (
            lambda d: d["factors"][1].update(weights=base64.b64encode(b"not a tensor").decode()),
            "factor of 'y': field 'weights' is not base64-encoded safetensors",
        ),
        (
            lambda d: d["factors"][1].update(weights="@@@"),
            "factor of 'y': field 'weights' is not base64-encoded safetensors",
        ),
        (
            lambda d: d["factors"][1].update(hidden=[5]),
            "factor of 'y': field 'weights' does not fit the network of 'hidden' [5]",
        ),
        (
            lambda d: d["variables"][0].update(states="ab"),
            "variable 'a': field 'states' must be a list of state names",
        ),
        (
            lambda d: d["variables"][0].update(states=["a", ""]),
            "variable 'a': state #1 is an empty name",
        ),
        (
            lambda d: d["factors"][0].update(probs=[[0.4, 0.6], [1]]),
            "factor of 'a': field 'probs' is ragged",
        ),
        (lambda d: d["factors"][0].update(probs="abc"), "factor of 'a': field 'probs' must be"),
        (
            lambda d: d["factors"][0].update(probs=[0.4, "x"]),
            "factor of 'a': field 'probs' must be numbers",
        ),
        (
            lambda d: d["variables"][1].update(shape=["a"]),
            "variable 'y': field 'shape' must be a list of positive ints",
        ),
        (
            lambda d: d.update(variables={"a": 1}),
            "network file: field 'variables' must be a list",
        ),
        (
            lambda d: d["factors"][0].update(parents=["zz"]),
            "factor of 'a': unknown parent(s) ['zz']",
        ),
    ],
)
def test_bad_field_is_one_line_naming_file_and_field(tmp_path, doc, change, message):
    path = _write(tmp_path, doc, change)
    with pytest.raises(ValueError) as info:
        load(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_deep_nesting_is_a_clear_error(tmp_path):
    path = tmp_path / "deep.json"
    depth = 100_000
    path.write_text('{"format": "bayesgen.network", "version": 1, "variables": ' + "[" * depth)
    with pytest.raises(ValueError, match="nests too deeply|not valid JSON"):
        load(path)
    path.write_text(
        '{"format": "bayesgen.network", "version": 1, "variables": '
        + "[" * depth
        + "]" * depth
        + "}"
    )
    with pytest.raises(ValueError, match=r"deep\.json: not a network file \(its JSON nests"):
        load(path)


def test_deep_table_is_named(tmp_path, doc):
    path = _write(
        tmp_path, doc, lambda d: d["factors"][0].update(probs=json.loads("[" * 500 + "]" * 500))
    )
    with pytest.raises(ValueError, match=r"field 'probs' nests too deeply to be a table"):
        load(path)


def test_directory_is_not_a_network(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        load(tmp_path)
