"""The catalog's facts against the modules they describe, and the layers added through it alone."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from server.export import export_onnx_bytes, export_pytorch, sample_input
from server.export import onnx as onnx_export
from server.export.pytorch import build_class, class_name
from server.graph import CATALOG, ShapeError, catalog_json, parse_document, validate
from server.model import build_model
from server.model.layers import build_layer
from tests.catalog_cases import CASES, case_document, case_network

FIRST = {t: cases[0] for t, cases in CASES.items()}


def layer_of(layer_type: str):
    """The first case's node and its module, built from the catalog entry."""
    network = case_network(layer_type, *FIRST[layer_type])
    node = network.node("layer")
    return node, build_layer(node)


@pytest.mark.parametrize("layer_type", sorted(FIRST))
def test_catalog_facts_describe_the_module(layer_type):
    spec = CATALOG[layer_type]
    node, module = layer_of(layer_type)
    names = {p.name for p in spec.params}
    assert spec.recurrent == isinstance(getattr(module, "rnn", None), nn.RNNBase)
    assert spec.relu_like == isinstance(module, nn.ReLU | nn.LeakyReLU)
    embeddings = [m for m in module.modules() if isinstance(m, nn.Embedding)]
    assert bool(spec.vocabulary) == bool(embeddings)
    if spec.vocabulary:
        assert embeddings[0].num_embeddings == node.params[spec.vocabulary]
    assert spec.size_param is None or spec.size_param in names
    assert spec.source == (spec.min_inputs == spec.max_inputs == 0)


@pytest.mark.parametrize("layer_type", sorted(t for t, s in CATALOG.items() if s.source
                                              and s.module is not None))
def test_a_source_is_the_identity_on_what_it_is_fed(layer_type):
    # The training loop draws the noise; the module only passes the batch it is fed on.
    shape, params = FIRST[layer_type]
    node, module = layer_of(layer_type)
    assert list(node.shape) == shape and node.n_params == 0
    z = torch.randn(4, *shape)
    assert torch.equal(module(z), z)


def test_noise_is_served_with_no_inputs_and_its_contract_params():
    noise = next(e for e in catalog_json() if e["type"] == "Noise")
    assert noise["inputs"] == {"min": 0, "max": 0} and noise["group"] == "Core"
    params = {p["name"]: p for p in noise["params"]}
    assert (params["dim"]["type"], params["dim"]["default"]) == ("int", 2)
    assert (params["dim"]["min"], params["dim"]["max"]) == (1, 1024)
    assert params["distribution"]["choices"] == ["normal", "uniform"]
    assert params["distribution"]["default"] == "normal"
    assert CATALOG["Noise"].rule([], {"dim": 7, "distribution": "uniform"}) == ((7,), 0)


def _torch_shape(module: nn.Module, shape: tuple[int, ...]):
    """The module's output shape for one sample; None where it refuses or outputs nothing."""
    try:
        with torch.no_grad():
            out = tuple(module(torch.zeros(1, *shape)).shape[1:])
    except RuntimeError:
        return None
    return out if all(out) else None


def _rule_shape(layer_type: str, shape: tuple[int, ...], params: dict):
    spec = CATALOG[layer_type]
    try:
        return spec.rule([shape], {**spec.defaults(), **params})
    except ShapeError:
        return None


@pytest.mark.parametrize(("k", "s", "pad", "extra"),
                         [c for c in itertools.product((1, 2, 3, 5), (1, 2, 3), (0, 1, 2, 3),
                                                       (0, 1, 2)) if c[3] < 3])
def test_conv_transpose2d_shapes_and_params_match_pytorch(k, s, pad, extra):
    params = {"out_channels": 2, "kernel_size": k, "stride": s, "padding": pad,
              "output_padding": extra}
    for shape in ((3, 1, 1), (3, 2, 5)):
        inferred = _rule_shape("ConvTranspose2d", shape, params)
        module = nn.ConvTranspose2d(shape[0], 2, k, stride=s, padding=pad, output_padding=extra)
        real = _torch_shape(module, shape)  # PyTorch refuses output_padding >= stride on forward
        assert (inferred and inferred[0]) == real, (shape, params)
        if inferred:
            assert inferred[1] == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(("mode", "factor"), [("nearest", 1), ("nearest", 3), ("bilinear", 2),
                                              ("bilinear", 16)])
def test_upsample_shapes_match_pytorch(mode, factor):
    shape = (2, 3, 5)
    inferred, n_params = _rule_shape("Upsample", shape, {"mode": mode, "scale_factor": factor})
    assert n_params == 0
    assert inferred == _torch_shape(nn.Upsample(scale_factor=float(factor), mode=mode), shape)


def _errors(layer_type: str, shape: list[int], params: dict) -> list[dict]:
    return validate(case_document(layer_type, shape, params)).errors


@pytest.mark.parametrize(("layer_type", "shape", "params", "param", "words"), [
    ("ConvTranspose2d", [2, 4, 4], {"stride": 2, "output_padding": 2}, "output_padding",
     "output_padding 2 must be smaller than stride 2"),
    ("ConvTranspose2d", [2, 1, 4], {"kernel_size": 1, "stride": 1, "padding": 1}, "padding",
     "leaves no output height"),
    ("ConvTranspose2d", [8], {}, None, "needs an input of shape [channels, height, width]"),
    ("Upsample", [2, 4, 4], {"align_corners": True}, "align_corners", "bilinear mode only"),
    ("Upsample", [2, 4], {}, None, "Upsample needs an input of shape [channels, height, width]"),
    ("Upsample", [2, 4, 4], {"scale_factor": 1.5}, "scale_factor", "must be an integer"),
    ("Upsample", [2, 4, 4], {"mode": "bicubic"}, "mode", "nearest, bilinear"),
])
def test_new_layers_name_the_node_and_param_at_fault(layer_type, shape, params, param, words):
    errors = _errors(layer_type, shape, params)
    assert any(e["node"] == "layer" and e["param"] == param and words in e["message"]
               for e in errors), errors


def test_noise_takes_no_edge_and_checks_its_params():
    doc = case_document("Noise", [2], {"dim": 0})
    errors = validate(doc).errors
    assert any(e["node"] == "layer" and e["param"] == "dim" for e in errors), errors
    assert any(e["node"] == "layer" and e["param"] == "edges" and "takes no input" in e["message"]
               for e in errors), errors


def test_a_generator_fed_at_its_noise_builds_and_exports():
    # A gan design's generator is a network whose input is its Noise node (graph/gan.py split).
    doc = {"format": "layerlab.network", "version": 1, "name": "Tiny generator", "nodes": [
        {"id": "z", "type": "Input", "params": {"shape": [4]}},
        {"id": "fc", "type": "Linear", "params": {"out_features": 8}},
        {"id": "grid", "type": "Reshape", "params": {"shape": [2, 2, 2]}},
        {"id": "up", "type": "ConvTranspose2d", "params": {"out_channels": 3}},
        {"id": "big", "type": "Upsample", "params": {"mode": "bilinear"}},
    ], "edges": [{"source": a, "target": b}
                 for a, b in [("z", "fc"), ("fc", "grid"), ("grid", "up"), ("up", "big")]]}
    network = parse_document(doc)
    fed = network.node("z")
    noise = replace(fed, type="Noise", params={"dim": 4, "distribution": "uniform"})
    network.nodes[network.nodes.index(fed)] = noise
    model = build_model(network, seed=0).eval()
    z = sample_input(network, 5)
    with torch.no_grad():
        out = model(z)
    assert tuple(out.shape) == (5, 3, 8, 8) == (5, *network.node("big").shape)
    source = export_pytorch(network, model.state_dict())
    assert "INPUT_SHAPE = (4,)" in source and 'self.layers["z"]' not in source
    twin = build_class(source, class_name(network))()
    twin.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(twin.eval()(z), out)
    data, result = export_onnx_bytes(model, network)
    assert result.ok, result.message
    (actual,) = onnx_export.ort_session(data).run(["output"], {"input": z.numpy()})
    np.testing.assert_allclose(actual, out.numpy(), rtol=1e-3, atol=1e-5)
