"""Every catalog entry against PyTorch itself: inferred shapes and parameter counts."""

import pytest
import torch

from server.graph import CATALOG, catalog_json, validate
from server.model import BUILDERS, build_model
from tests.catalog_cases import CASES, all_cases, case_document, sample_input


def test_every_catalog_type_has_a_builder_and_a_case():
    layer_types = set(CATALOG) - {"Input"}
    assert layer_types == set(BUILDERS)
    assert layer_types == set(CASES)


@pytest.mark.parametrize(("layer_type", "shape", "params"), all_cases())
def test_inferred_shape_and_params_match_pytorch(layer_type, shape, params):
    report = validate(case_document(layer_type, shape, params))
    assert report.ok, report.errors
    network = report.network
    model = build_model(network, seed=0).eval()
    with torch.no_grad():
        out = model(sample_input(layer_type, shape, params))
    inferred = report.to_json()
    assert list(out.shape) == [3, *inferred["shapes"]["layer"]]
    real = sum(p.numel() for p in model.layers["layer"].parameters())
    assert inferred["params"]["layer"] == real


def test_catalog_json_lists_every_param_with_its_default():
    entries = {e["type"]: e for e in catalog_json()}
    assert set(entries) == set(CATALOG)
    linear = entries["Linear"]
    assert linear["group"] == "Core" and linear["doc"]
    out = next(p for p in linear["params"] if p["name"] == "out_features")
    assert out["type"] == "int" and out["default"] == 16 and out["min"] == 1
    assert "in_features" not in [p["name"] for p in linear["params"]]
    assert entries["Add"]["inputs"] == {"min": 2, "max": 16}


def test_submodules_are_named_by_node_ids():
    report = validate(case_document("Concat", [4], {}))
    model = build_model(report.network)
    names = {k.split(".")[1] for k in model.state_dict()}
    assert names == {"b0", "b1"}


def test_capture_returns_chosen_outputs_and_same_result():
    report = validate(case_document("Add", [4], {}))
    model = build_model(report.network, seed=1).eval()
    x = torch.randn(2, 4)
    out, captured = model.capture(x, ["b0", "b1"])
    torch.testing.assert_close(out, model(x))
    torch.testing.assert_close(out, captured["b0"] + captured["b1"])


def test_reserved_ids_cover_module_attributes_and_are_refused():
    import re

    from torch import nn

    from server.graph.reserved import RESERVED_IDS

    attrs = {n for n in dir(nn.ModuleDict()) if re.match(r"^[A-Za-z0-9_-]{1,64}$", n)}
    assert attrs <= RESERVED_IDS
    doc = case_document("Linear", [4], {})
    doc["nodes"][1]["id"] = doc["edges"][0]["target"] = "training"
    errors = validate(doc).errors
    assert errors[0]["node"] == "training" and "rename" in errors[0]["message"]


def test_a_design_of_only_an_input_builds():
    doc = {"format": "layerlab.network", "version": 1,
           "nodes": [{"id": "in", "type": "Input", "params": {"shape": [3]}}], "edges": []}
    model = build_model(validate(doc).network)
    x = torch.randn(2, 3)
    assert torch.equal(model(x), x)
