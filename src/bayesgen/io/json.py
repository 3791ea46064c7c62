"""Save and load any network as one JSON file; nothing in it is ever executed.

Tables and Gaussian parameters are stored as JSON numbers (``repr`` of float64, so a round trip
is exact). A neural factor's weights are stored as a safetensors blob, base64-encoded inside the
JSON, never as a pickle. A neural factor built with its default MLP is rebuilt from its recorded
sizes; one with a custom ``nn.Module`` is rebuilt by passing that module in ``modules=``.

Reading checks every field before building anything from it: a wrong field is one error naming
the file, the variable or factor and the field (``net.json: factor of 'y': field 'hidden' must
be ...``), and a network too large for the memory budget is refused before it is allocated.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from torch import nn

from ..errors import MemoryBudgetError
from ..factors import (
    Gaussian,
    LinearGaussian,
    NeuralBernoulli,
    NeuralCategorical,
    NeuralFactor,
    NeuralNormal,
    Table,
)
from ..factors.base import Factor
from ..network import BayesNet
from ..variables import Continuous, Discrete, Variable

__all__ = ["save", "load", "to_json", "from_json"]

FORMAT = "bayesgen.network"
VERSION = 1
_NEURAL = {cls.__name__: cls for cls in (NeuralBernoulli, NeuralCategorical, NeuralNormal)}


def _variable(v: Variable) -> dict:
    if isinstance(v, Discrete):
        return {"name": v.name, "type": "discrete", "states": list(v.states)}
    return {"name": v.name, "type": "continuous", "shape": list(v.shape)}


def _factor(f: Factor) -> dict:
    out: dict = {"variable": f.name, "parents": list(f.parent_names), "type": type(f).__name__}
    if isinstance(f, Table):
        out["probs"] = f.probs.tolist()
    elif isinstance(f, LinearGaussian):
        out["covariance"] = f.covariance
        out["weight"] = f.weight.tolist()
        out["bias"] = f.bias.tolist()
        key = "scale" if f.covariance == "diag" else "scale_tril"
        out[key] = getattr(f, key).tolist()
    elif isinstance(f, NeuralFactor) and type(f).__name__ in _NEURAL:
        from safetensors.torch import save as st_save

        out["context_size"] = f.context_size
        out["hidden"] = list(f.hidden) if f.hidden is not None else None
        if isinstance(f, NeuralNormal):
            out.update(mean=f.mean_activation, scale=f.fixed_scale, min_scale=f.min_scale)
        state = {k: v.detach().cpu().contiguous() for k, v in f.state_dict().items()}
        out["weights"] = base64.b64encode(st_save(state)).decode("ascii")
    else:
        raise TypeError(f"cannot save factor of {f.name!r}: {type(f).__name__} has no JSON form")
    return out


def to_json(net: BayesNet) -> dict:
    """The network as a JSON-ready dict."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": net.name,
        "variables": [_variable(v) for v in net.variables.values()],
        "factors": [_factor(f) for f in net.factors.values()],
    }


def save(net: BayesNet, path: str | Path) -> Path:
    """Write ``net`` to ``path`` as JSON."""
    path = Path(path)
    path.write_text(json.dumps(to_json(net)))
    return path


def _require(obj: Mapping, key: str, where: str):
    if key not in obj:
        raise ValueError(f"{where}: missing field {key!r}")
    return obj[key]


def _object(value, where: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a JSON object, got {_clip(value)}")
    return value


def _list(obj: Mapping, key: str, where: str) -> list:
    value = _require(obj, key, where)
    if not isinstance(value, list):
        raise ValueError(f"{where}: field {key!r} must be a list, got {_clip(value)}")
    return value


def _name(obj: Mapping, key: str, where: str) -> str:
    value = _require(obj, key, where)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}: field {key!r} must be a non-empty string, got {_clip(value)}")
    return value


def _numbers(obj: Mapping, key: str, where: str, *, optional: bool = False):
    """A field of (nested lists of) numbers, checked: not ragged, numbers only."""
    if optional and obj.get(key) is None:
        return None
    value = _require(obj, key, where)
    if isinstance(value, bool) or isinstance(value, str):
        raise ValueError(f"{where}: field {key!r} must be numbers, got {_clip(value)}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError) as err:
        if "maximum number of dimension" in str(err):  # more than numpy's 64 axes
            what = "nests too deeply to be a table"
        elif "inhomogeneous" in str(err) or "sequence" in str(err):
            what = "is ragged (its rows have different lengths)"
        else:
            what = "must be numbers"
        raise ValueError(f"{where}: field {key!r} {what}, got {_clip(value)}") from None
    return array


def _clip(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _states(v: Mapping, where: str):
    states = _require(v, "states", where)
    if isinstance(states, bool) or not isinstance(states, (list, int)):
        raise ValueError(
            f"{where}: field 'states' must be a list of state names or a number of states, "
            f"got {_clip(states)}"
        )
    if isinstance(states, list) and not all(isinstance(x, (str, Integral)) for x in states):
        raise ValueError(f"{where}: field 'states' must hold names, got {_clip(states)}")
    return states


def _shape(v: Mapping, where: str) -> tuple[int, ...]:
    shape = _require(v, "shape", where)
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = [shape]
    if not isinstance(shape, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in shape
    ):
        raise ValueError(
            f"{where}: field 'shape' must be a list of positive ints, got {_clip(shape)}"
        )
    return tuple(shape)


def from_json(doc: Mapping, modules: Mapping[str, nn.Module] | None = None) -> BayesNet:
    """Rebuild a network from :func:`to_json` output; ``modules`` supplies custom networks."""
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
        raise ValueError(f"not a bayesgen network file (format field must be {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise ValueError(f"unsupported network file version {doc.get('version')!r}")
    modules = dict(modules or {})
    variables: dict[str, Variable] = {}
    for i, v in enumerate(_list(doc, "variables", "network file")):
        where = f"variable #{i}"
        v = _object(v, where)
        name = _name(v, "name", where)
        where = f"variable {name!r}"
        kind = _require(v, "type", where)
        if name in variables:
            raise ValueError(f"{where} is declared twice")
        try:
            if kind == "discrete":
                variables[name] = Discrete(name, _states(v, where))
            elif kind == "continuous":
                variables[name] = Continuous(name, _shape(v, where))
            else:
                raise ValueError(
                    f"variable {name!r}: unknown type {kind!r} (discrete or continuous)"
                )
        except TypeError as err:  # a wrong kind of value, e.g. states given as one string
            raise ValueError(str(err)) from None
    factors = []
    for i, f in enumerate(_list(doc, "factors", "network file")):
        f = _object(f, f"factor #{i}")
        name = _name(f, "variable", f"factor #{i}")
        where = f"factor of {name!r}"
        if name not in variables:
            raise ValueError(f"{where}: no variable {name!r} declared")
        parent_names = _list(f, "parents", where)
        if not all(isinstance(p, str) for p in parent_names):
            raise ValueError(f"{where}: field 'parents' must list variable names")
        unknown = [p for p in parent_names if p not in variables]
        if unknown:
            raise ValueError(f"{where}: unknown parent(s) {unknown}")
        var, parents = variables[name], [variables[p] for p in parent_names]
        kind = _require(f, "type", where)
        try:
            factors.append(_build_factor(kind, var, parents, f, modules, where))
        except (TypeError, RuntimeError) as err:  # what a check above did not foresee
            raise ValueError(f"{where}: {_first_line(err)}") from None
        except MemoryBudgetError:
            raise
        except ValueError as err:
            message = _first_line(err)
            raise ValueError(
                message if message.startswith(where) else f"{where}: {message}"
            ) from None
    if modules:
        raise ValueError(f"modules given for unknown or non-neural factors {sorted(modules)}")
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"network file: field 'name' must be a string, got {_clip(name)}")
    return BayesNet(factors, name=name)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _build_factor(kind, var, parents, f: Mapping, modules: dict, where: str) -> Factor:
    if kind == "Table":
        return Table(var, parents, probs=_numbers(f, "probs", where))
    if kind in ("LinearGaussian", "Gaussian"):
        cov = f.get("covariance", "diag")
        if cov not in ("diag", "full"):
            raise ValueError(f"field 'covariance' must be 'diag' or 'full', got {_clip(cov)}")
        key = "scale" if cov == "diag" else "scale_tril"
        if kind == "LinearGaussian":
            return LinearGaussian(
                var,
                parents,
                weight=_numbers(f, "weight", where),
                bias=_numbers(f, "bias", where),
                scale=_numbers(f, key, where),
                covariance=cov,
            )
        return Gaussian(
            var,
            parents,
            mean=_numbers(f, "bias", where),
            std=_numbers(f, "scale", where, optional=True),
            scale_tril=_numbers(f, "scale_tril", where, optional=True),
            covariance=cov,
        )
    if kind in _NEURAL:
        return _neural(kind, var, parents, f, modules.pop(var.name, None), where)
    raise ValueError(f"{where}: unknown factor type {kind!r}")


def _neural(kind, var, parents, f, module, where) -> NeuralFactor:
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    hidden = f.get("hidden")
    if hidden is None and module is None:
        raise ValueError(f"{where}: its network is a custom module; pass it as modules={{...}}")
    if hidden is not None and (
        not isinstance(hidden, list)
        or not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden)
    ):
        raise ValueError(
            f"{where}: field 'hidden' must be a list of positive ints (the hidden layers' "
            f"widths), got {_clip(hidden)}"
        )
    context_size = f.get("context_size", 0)
    if isinstance(context_size, bool) or not isinstance(context_size, int) or context_size < 0:
        raise ValueError(f"{where}: field 'context_size' must be an int >= 0, got {context_size!r}")
    kwargs = {"context_size": context_size, "hidden": tuple(hidden or ())}
    if kind == "NeuralNormal":
        min_scale = f.get("min_scale", 1e-4)
        if isinstance(min_scale, bool) or not isinstance(min_scale, Real):
            raise ValueError(f"{where}: field 'min_scale' must be a number, got {_clip(min_scale)}")
        kwargs.update(mean=f.get("mean", "identity"), scale=f.get("scale"), min_scale=min_scale)
    try:
        factor = _NEURAL[kind](var, parents, module, **kwargs)
    except MemoryBudgetError as err:
        raise MemoryBudgetError(
            err.estimate,
            err.budget,
            f"{where}: the network of field 'hidden' {hidden}",
            "use smaller hidden layers",
            exact=False,
        ) from None
    blob = _require(f, "weights", where)
    if not isinstance(blob, str):
        raise ValueError(f"{where}: field 'weights' must be a base64 string, got {_clip(blob)}")
    try:
        state = st_load(base64.b64decode(blob, validate=True))
    except (binascii.Error, ValueError, SafetensorError) as err:
        raise ValueError(
            f"{where}: field 'weights' is not base64-encoded safetensors ({_first_line(err)})"
        ) from None
    try:
        factor.load_state_dict(state)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:200]
        raise ValueError(
            f"{where}: field 'weights' does not fit the network of 'hidden' {hidden} ({detail})"
        ) from None
    return factor


def load(path: str | Path, modules: Mapping[str, nn.Module] | None = None) -> BayesNet:
    """Read a network written by :func:`save`."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a network file")
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    except RecursionError:
        raise ValueError(f"{path}: not a network file (its JSON nests too deeply)") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err.reason})") from None
    try:
        return from_json(doc, modules)
    except MemoryBudgetError as err:
        raise MemoryBudgetError(
            err.estimate, err.budget, f"{path}: {err.what}", err.advice, exact=False
        ) from None
    except ValueError as err:
        raise ValueError(f"{path}: {_first_line(err)}") from None
