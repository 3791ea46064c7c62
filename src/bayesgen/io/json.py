"""Save and load any network as one JSON file; nothing in it is ever executed.

Tables and Gaussian parameters are stored as JSON numbers (``repr`` of float64, so a round trip
is exact). A neural factor's weights are stored as a safetensors blob, base64-encoded inside the
JSON, never as a pickle. A neural factor built with its default MLP is rebuilt from its recorded
sizes; one with a custom ``nn.Module`` is rebuilt by passing that module in ``modules=``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path

from torch import nn

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


def from_json(doc: Mapping, modules: Mapping[str, nn.Module] | None = None) -> BayesNet:
    """Rebuild a network from :func:`to_json` output; ``modules`` supplies custom networks."""
    if not isinstance(doc, Mapping) or doc.get("format") != FORMAT:
        raise ValueError(f"not a bayesgen network file (format field must be {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise ValueError(f"unsupported network file version {doc.get('version')!r}")
    modules = dict(modules or {})
    variables: dict[str, Variable] = {}
    for i, v in enumerate(_require(doc, "variables", "network file")):
        where = f"variable #{i}"
        name = _require(v, "name", where)
        kind = _require(v, "type", where)
        if kind == "discrete":
            variables[name] = Discrete(name, _require(v, "states", where))
        elif kind == "continuous":
            variables[name] = Continuous(name, tuple(_require(v, "shape", where)))
        else:
            raise ValueError(f"variable {name!r}: unknown type {kind!r} (discrete or continuous)")
    factors = []
    for i, f in enumerate(_require(doc, "factors", "network file")):
        name = _require(f, "variable", f"factor #{i}")
        where = f"factor of {name!r}"
        if name not in variables:
            raise ValueError(f"{where}: no variable {name!r} declared")
        unknown = [p for p in _require(f, "parents", where) if p not in variables]
        if unknown:
            raise ValueError(f"{where}: unknown parent(s) {unknown}")
        var, parents = variables[name], [variables[p] for p in f["parents"]]
        kind = _require(f, "type", where)
        if kind == "Table":
            factors.append(Table(var, parents, probs=_require(f, "probs", where)))
        elif kind in ("LinearGaussian", "Gaussian"):
            cov = f.get("covariance", "diag")
            key = "scale" if cov == "diag" else "scale_tril"
            factors.append(
                LinearGaussian(
                    var,
                    parents,
                    weight=_require(f, "weight", where),
                    bias=_require(f, "bias", where),
                    scale=_require(f, key, where),
                    covariance=cov,
                )
                if kind == "LinearGaussian"
                else Gaussian(
                    var,
                    parents,
                    mean=f["bias"],
                    std=f.get("scale"),
                    scale_tril=f.get("scale_tril"),
                    covariance=cov,
                )
            )
        elif kind in _NEURAL:
            factors.append(_neural(kind, var, parents, f, modules.pop(name, None), where))
        else:
            raise ValueError(f"{where}: unknown factor type {kind!r}")
    if modules:
        raise ValueError(f"modules given for unknown or non-neural factors {sorted(modules)}")
    return BayesNet(factors, name=doc.get("name"))


def _neural(kind, var, parents, f, module, where) -> NeuralFactor:
    from safetensors.torch import load as st_load

    hidden = f.get("hidden")
    if hidden is None and module is None:
        raise ValueError(f"{where}: its network is a custom module; pass it as modules={{...}}")
    kwargs = {"context_size": f.get("context_size", 0), "hidden": tuple(hidden or ())}
    if kind == "NeuralNormal":
        kwargs.update(
            mean=f.get("mean", "identity"), scale=f.get("scale"), min_scale=f.get("min_scale", 1e-4)
        )
    factor = _NEURAL[kind](var, parents, module, **kwargs)
    state = st_load(base64.b64decode(_require(f, "weights", where)))
    factor.load_state_dict(state)
    return factor


def load(path: str | Path, modules: Mapping[str, nn.Module] | None = None) -> BayesNet:
    """Read a network written by :func:`save`."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    return from_json(doc, modules)
