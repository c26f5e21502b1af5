"""Files: download and upload the document, export ONNX (fresh weights) and PyTorch source."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import button, node_ids, wait_valid

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_download_then_upload_round_trips_the_document(page, tmp_path):
    wait_valid(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download", exact=True).click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.name.endswith(".layerlab.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "layerlab.network" and doc["nodes"]
    doc["name"] = "Uploaded again"
    old = doc["nodes"][1]["id"]
    doc["nodes"][1]["id"] = "renamed"
    for e in doc["edges"]:
        e["source"] = "renamed" if e["source"] == old else e["source"]
        e["target"] = "renamed" if e["target"] == old else e["target"]
    path.write_text(json.dumps(doc))
    button(page, "New").click()
    page.set_input_files("input[name=document_file]", str(path))
    expect(page.locator(".design-name")).to_have_value("Uploaded again")
    assert "renamed" in node_ids(page)
    wait_valid(page)


def test_export_fresh_onnx_and_pytorch(page, tmp_path):
    wait_valid(page)
    with page.expect_download(timeout=60_000) as info:
        button(page, "Export ONNX").click()
    onnx = tmp_path / "fresh.onnx"
    info.value.save_as(onnx)
    assert onnx.stat().st_size > 1000
    expect(page.locator('[data-action="export-onnx"]')).to_have_attribute(
        "data-check", re.compile(r"^ok\b"), timeout=10_000)
    expect(page.locator(".toast").last).to_contain_text("ONNX Runtime check")
    with page.expect_download(timeout=60_000) as info:
        button(page, "Export PyTorch").click()
    source = tmp_path / info.value.suggested_filename
    info.value.save_as(source)
    assert source.suffix == ".py"
    assert "torch" in source.read_text()
