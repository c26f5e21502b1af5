"""Testing a candidate layer: build the module the catalog makes of it, give it the recognized
weights under the builder's names, feed it the unit's inputs from the ONNX Runtime run and
compare its output with the run's."""

from __future__ import annotations

import numpy as np
import torch

from server.graph import CATALOG, Node, ShapeError
from server.importer.base import Layer, Unsupported
from server.importer.capture import Capture
from server.importer.units import Unit
from server.model.layers import build_layer

ATOL, RTOL = 1e-4, 1e-4  # |ours - ONNX Runtime| <= ATOL + RTOL * max |ONNX Runtime|


def close(diff: float, expected: np.ndarray) -> bool:
    """Whether a difference is within the importer's tolerance for these values."""
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    return bool(diff <= ATOL + RTOL * scale)


def difference(layer: Layer, unit: Unit, run: Capture) -> tuple[float, dict]:
    """(max |layer(inputs) - run's output|, the layer's state_dict); Unsupported when the
    layer cannot be built for these inputs or takes other weights than it is given."""
    in_shapes = [run.shape(i)[1:] for i in unit.inputs]
    node = node_for(layer, in_shapes)
    try:
        module = build_layer(node)
        module.load_state_dict(adapt(layer, module.state_dict()), strict=True)
        module.eval()
        inputs = [torch.from_numpy(np.ascontiguousarray(run.values[i])).float()
                  for i in unit.inputs]
        with torch.no_grad():
            out = module(*inputs).numpy()
    except Unsupported:
        raise
    except Exception as e:  # PyTorch refusing the layer on these inputs
        line = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise Unsupported(f"as a {layer.type} it fails in PyTorch: {line}") from None
    expected = run.values[unit.output]
    if out.shape != expected.shape:
        raise Unsupported(f"as a {layer.type} it gives {list(out.shape)}; the graph gives "
                          f"{list(expected.shape)}")
    diff = float(np.abs(out - expected).max()) if out.size else 0.0
    return diff, module.state_dict()


def node_for(layer: Layer, in_shapes: list[tuple[int, ...]]) -> Node:
    """The checked node a layer is on the canvas: params resolved, shape inferred."""
    spec = CATALOG[layer.type]
    params = {**spec.defaults(), **layer.params}
    problem = params_problem(layer.type, params)
    if problem:
        raise Unsupported(problem)
    if not spec.min_inputs <= len(in_shapes) <= spec.max_inputs:
        raise Unsupported(f"a {layer.type} takes {spec.min_inputs} to {spec.max_inputs} "
                          f"inputs; it has {len(in_shapes)}")
    try:
        shape, n_params = spec.rule([tuple(s) for s in in_shapes], params)
    except ShapeError as e:
        raise Unsupported(f"as a {layer.type}: {e.message}") from None
    return Node("unit", layer.type, params, [f"in{i}" for i in range(len(in_shapes))],
                [tuple(s) for s in in_shapes], tuple(int(d) for d in shape), int(n_params))


def params_problem(kind: str, params: dict) -> str | None:
    """Why a param value is outside the catalog's range for the type, or None."""
    for p in CATALOG[kind].params:
        value = params.get(p.name)
        if value is None and p.nullable:
            continue
        if p.choices and value not in p.choices:
            return f"its {p.name} {value!r} is not one of {kind}'s ({', '.join(p.choices)})"
        if p.type in ("int", "float") and p.min is not None and not (
                p.min <= value <= (p.max if p.max is not None else value)):
            return (f"its {p.name} {value:g} is outside {kind}'s range {p.min:g} to "
                    f"{p.max:g}")
    return None


def adapt(layer: Layer, wanted: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The layer's tensors as the module's state_dict: a bias the file left out (it was zero)
    and BatchNorm's step count filled in; a tensor the module has no place for is dropped
    only when it does nothing (ones that scale, zeros that shift)."""
    state = {}
    for key, ref in wanted.items():
        value = layer.tensors.get(key)
        if value is None:
            last = key.rsplit(".", 1)[-1]
            if last.startswith("bias") or last == "num_batches_tracked":
                state[key] = torch.zeros_like(ref)
                continue
            raise Unsupported(f"as a {layer.type} it needs {key}, which the graph does not give")
        value = np.asarray(value)
        if tuple(value.shape) != tuple(ref.shape):
            raise Unsupported(f"as a {layer.type} its {key} would be {list(ref.shape)}; the "
                              f"graph's is {list(value.shape)}")
        state[key] = torch.from_numpy(np.array(value, copy=True)).to(ref.dtype)
    for key, value in layer.tensors.items():
        if key not in wanted and not _does_nothing(key, np.asarray(value)):
            raise Unsupported(f"as a {layer.type} with these params it has no place for {key}")
    return state


def _does_nothing(key: str, value: np.ndarray) -> bool:
    last = key.rsplit(".", 1)[-1]
    if last in ("weight", "running_var"):
        return bool(np.all(value == 1))
    return last in ("bias", "running_mean") and not np.any(value)
