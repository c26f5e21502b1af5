"""Bring your own (issue 13) on the page: an ONNX model dropped on the canvas, a zip of image
folders and a text as the dataset, what a text network writes live, an example's trained
weights, and each layer's MACs and activation memory."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifact
from tests.browser.helpers import (
    button,
    deselect,
    node_ids,
    until_not_running,
    wait_points,
    wait_valid,
)
from tests.browser.own_files import (
    TEXT,
    design,
    drop_file,
    open_document,
    open_writer,
    shapes_zip,
    small_onnx,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def test_an_onnx_file_dropped_on_the_canvas_becomes_the_design_with_its_weights(page, page_log,
                                                                                 tmp_path):
    before = node_ids(page)
    model = tmp_path / "tiny_mlp.onnx"
    small_onnx(model)
    drop_file(page, model, model.name)
    expect(page.locator(".design-name")).to_have_value("tiny_mlp", timeout=60_000)
    expect(page.locator("[data-node-id]")).to_have_count(4)
    assert [t.inner_text() for t in page.locator("[data-node-id] .node-type").all()] == [
        "Input", "Linear", "ReLU", "Linear"]
    wait_valid(page)  # the open design's dataset (the spiral) takes its [2] input
    init = page.evaluate("() => window.layerlab.store.doc.training.init")
    assert re.fullmatch(r"[0-9a-f]{16}", init["weights"]), init
    deselect(page)
    chip = page.locator(".training-form .init-chip")
    expect(chip).to_contain_text("starts from imported weights")
    chip.scroll_into_view_if_needed()
    page.screenshot(path=str(artifact("own-data-imported.png")))

    bad = tmp_path / "cumsum.onnx"
    small_onnx(bad, op="cumsum")
    drop_file(page, bad, bad.name)
    report = page.locator(".import-card[data-report=error]")
    expect(report).to_be_visible(timeout=60_000)
    expect(report.locator(".import-item[data-op=CumSum]")).to_contain_text("CumSum")
    expect(report.locator(".import-node")).to_have_text(re.compile(r"CumSum$"))
    page.screenshot(path=str(artifact("own-data-import-refused.png")))
    # The refusal is a 400, which Chromium also logs on the console: that one is expected.
    refused = [e for e in page_log.errors if "400" in e and "/api/import" in e]
    assert len(refused) == 1, page_log.errors
    page_log.errors.remove(refused[0])
    page.keyboard.press("Escape")
    expect(report).to_have_count(0)
    assert page.locator("[data-node-id]").count() == 4  # a refused import leaves the design

    page.locator(".canvas").focus()
    page.keyboard.press("Control+z")  # the import is one undo step
    expect(page.locator("[data-node-id]")).to_have_count(len(before))


def test_an_image_zip_shows_a_grid_per_class_and_trains(page, tmp_path):
    archive = tmp_path / "shapes.zip"
    shapes_zip(archive)
    nodes = [{"id": "in", "type": "Input"}, {"id": "flat", "type": "Flatten"},
             {"id": "out", "type": "Linear", "params": {"out_features": 2}}]
    open_document(page, tmp_path / "shapes.layerlab.json",
                  design("Shapes", nodes, {"name": "images"}, epochs=8, batch_size=8))
    deselect(page)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload images (.zip)…").click()
    chooser.value.set_files(str(archive))
    grid = page.locator(".own-data .class-grid")
    expect(grid).to_have_attribute("data-classes", "2", timeout=30_000)
    rows = grid.locator(".class-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-class", "circle")
    expect(rows.nth(0).locator(".class-count")).to_have_text("12")
    expect(rows.nth(1).locator(".class-thumb")).to_have_count(8)
    spec = page.evaluate("() => window.layerlab.store.doc.training.dataset")
    assert spec["name"] == "images" and spec["size"] == [24, 24] and spec["channels"] == 1, spec
    expect(page.locator('[data-node-id="in"] .node-shape')).to_have_text("[1, 24, 24]")

    size = page.locator('.training-form [name="dataset.size"]')
    size.fill("12, 12")
    size.press("Enter")
    thumb = rows.nth(0).locator(".class-thumb").first
    expect(thumb).to_have_attribute("width", "12", timeout=20_000)
    expect(page.locator('[data-node-id="in"] .node-shape')).to_have_text("[1, 12, 12]")
    wait_valid(page)
    grid.scroll_into_view_if_needed()
    page.screenshot(path=str(artifact("own-data-image-classes.png")))
    button(page, "Train").click()
    assert until_not_running(page, timeout=120_000) == "finished"
    wait_points(page, 1, chart="accuracy")


def test_a_text_upload_shows_its_opening_and_what_the_network_writes(page, tmp_path):
    text = tmp_path / "two_cities.txt"
    text.write_text(TEXT)
    vocab = len(set(TEXT))
    open_writer(page, tmp_path, text)
    block = page.locator(".own-data")
    opening = block.locator(".text-opening")
    expect(opening).to_contain_text("It was the best of times", timeout=30_000)
    expect(block.locator(".vocab-char")).to_have_count(vocab)
    summary = f"{len(TEXT):,} characters, {vocab} distinct"
    expect(block.locator(".own-summary")).to_have_text(summary)
    wait_valid(page)
    card = page.locator(".text-card")
    expect(card).to_be_visible()
    button(page, "Train").click()
    expect(card).to_have_attribute("data-step", re.compile(r"^[1-9]"), timeout=90_000)
    first = int(card.get_attribute("data-step"))
    expect(card).not_to_have_attribute("data-step", str(first), timeout=30_000)  # it goes on, 1/s
    prompt = card.locator('[data-sample="greedy"] .text-prompt').inner_text()
    assert prompt and TEXT.find(prompt.lstrip("…")[-10:]) >= 0, prompt
    assert len(card.locator('[data-sample="greedy"] .text-written').inner_text()) == 120
    label = card.locator('[data-sample="sampled"] .text-label').inner_text()
    assert label.startswith("sampled · temperature"), label
    page.screenshot(path=str(artifact("own-data-text-writes.png")))
    button(page, "Stop").click()
    until_not_running(page)


def test_macs_and_activation_memory_show_beside_the_parameter_count(page):
    wait_valid(page)
    total = page.locator(".statusbar .status-total")
    expect(total).to_have_text(
        re.compile(r"parameters · [\d.]+ (k )?MACs · [\d.]+ (B|KB) activations"))
    page.locator('[data-node-id="fc1"] .node-type').click()
    cost = page.locator(".inspector .insp-cost")
    expect(cost).to_have_text("64 MACs · 128 B of activations")  # Linear 2 -> 32, float32


def test_an_example_opens_with_its_trained_weights_and_trains_from_them(page):
    button(page, "Examples").click()
    page.locator("[data-trained-example=digits_softmax]").click()
    expect(page.locator(".design-name")).to_have_value("Digits softmax regression")
    deselect(page)
    chip = page.locator(".training-form .init-chip")
    expect(chip).to_contain_text("starts from trained weights")
    page.fill(".training-form [name=epochs]", "1")
    expect(page.locator('[data-node-id="in"] .node-shape')).to_have_text("[1, 8, 8]")
    wait_valid(page)
    chip.scroll_into_view_if_needed()
    page.screenshot(path=str(artifact("own-data-trained-weights.png")))
    button(page, "Train").click()
    assert until_not_running(page, timeout=120_000) == "finished"
    wait_points(page, 1, chart="accuracy")
    first = page.evaluate("() => Array.from(window.layerlab.charts.table"
                          ".column('val_accuracy')).find(Number.isFinite)")
    assert first > 0.85, f"the first validation accuracy {first} is not a trained model's"

    chip.locator(".init-clear").click()  # removable: back to fresh weights
    expect(page.locator(".training-form .init-chip")).to_have_count(0)
    assert page.evaluate("() => window.layerlab.store.doc.training.init") is None
    again = page.locator("[data-action=continue-run]")
    expect(again).to_be_visible()
    again.click()
    run_id = page.evaluate("() => window.layerlab.runClient.runId")
    expect(page.locator(".training-form .init-chip")).to_contain_text(f"continues run {run_id}")
    assert page.evaluate("() => window.layerlab.store.doc.training.init") == {"run": run_id}

    button(page, "Train").click()  # a second run, from the first one's weights
    page.wait_for_function("id => window.layerlab.runClient.runId !== id", arg=run_id,
                           timeout=30_000)  # a short run may end between two looks at its state
    assert until_not_running(page, timeout=120_000) == "finished"
    page.locator("[data-action=insight]").click()
    page.locator(".insight-tab[data-tab=runs]").click()
    earlier = page.locator(f'[data-compare-run="{run_id}"] [data-continue-run="{run_id}"]')
    expect(earlier).to_be_visible(timeout=20_000)
    chip.locator(".init-clear").click()
    earlier.click()  # the Runs tab's Continue sets it again
    assert page.evaluate("() => window.layerlab.store.doc.training.init") == {"run": run_id}
    page.screenshot(path=str(artifact("own-data-continue-from-run.png")))
