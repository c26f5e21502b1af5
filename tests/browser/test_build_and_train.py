"""Build the spiral MLP from an empty canvas, train it live, control the run, export ONNX."""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifact
from tests.browser.helpers import (
    button,
    connect,
    deselect,
    drag_layer,
    new_design,
    points,
    run_state,
    set_param,
    shape_text,
    wait_points,
    wait_valid,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def build_spiral_mlp(page) -> list[str]:
    """Input -> Linear(16) -> Tanh -> Linear(16) -> Tanh -> Linear(2), by drag and drop."""
    new_design(page)
    layers = ["Input", "Linear", "Tanh", "Linear", "Tanh", "Linear"]
    ids = []
    for i, layer in enumerate(layers):
        x = 110 + (i % 3) * 215
        y = 90 + (i // 3) * 150
        ids.append(drag_layer(page, layer, x, y))
    for a, b in zip(ids, ids[1:], strict=False):
        connect(page, a, b)
    set_param(page, ids[-1], "out_features", "2")
    return ids


def test_build_spiral_mlp_train_pause_resume_stop_export(page, tmp_path):
    ids = build_spiral_mlp(page)
    deselect(page)
    page.select_option("select[name=dataset]", "spiral")
    page.fill(".training-form [name=epochs]", "")  # train until stopped
    wait_valid(page)
    assert shape_text(page, ids[0]) == "[2]"
    assert shape_text(page, ids[1]) == "[16]"
    assert shape_text(page, ids[-1]) == "[2]"
    expect(page.locator(f'.edge-label[data-edge="{ids[0]}->{ids[1]}"]')).to_have_text("[2]")
    page.screenshot(path=str(artifact("build-spiral-mlp.png")))

    train = button(page, "Train")
    expect(train).to_be_enabled()
    train.click()
    expect(run_state(page)).to_have_attribute("data-run-state", "running", timeout=60_000)
    first = wait_points(page, 1)
    page.wait_for_function("n => +document.querySelector('[data-chart=loss]').dataset.points > n",
                           arg=first, timeout=30_000)
    page.screenshot(path=str(artifact("spiral-training.png")))

    button(page, "Pause").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "paused")
    paused_at = points(page)
    button(page, "Step").click()  # one optimizer step, then paused again
    page.wait_for_function("n => +document.querySelector('[data-chart=loss]').dataset.points > n",
                           arg=paused_at, timeout=15_000)
    expect(run_state(page)).to_have_attribute("data-run-state", "paused")
    button(page, "Resume").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "running")
    grown = points(page)
    page.wait_for_function("n => +document.querySelector('[data-chart=loss]').dataset.points > n",
                           arg=grown, timeout=30_000)
    button(page, "Stop").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "stopped", timeout=30_000)
    assert points(page, "accuracy") > 0
    expect(train).to_be_enabled()

    with page.expect_download(timeout=60_000) as info:
        button(page, "Export ONNX").click()
    path = tmp_path / "model.onnx"
    info.value.save_as(path)
    expect(page.locator('[data-action="export-onnx"]')).to_have_attribute(
        "data-check", re.compile(r"^ok\b"), timeout=10_000)

    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    out = session.run(None, {name: np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)})
    assert out[0].shape == (5, 2)
    assert np.isfinite(out[0]).all()


def test_learning_rate_change_is_marked_on_the_chart(page):
    build_spiral_mlp(page)
    deselect(page)
    page.fill(".training-form [name=epochs]", "")
    wait_valid(page)
    button(page, "Train").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "running", timeout=60_000)
    wait_points(page, 3)
    page.fill("input[name=lr]", "0.003")
    page.press("input[name=lr]", "Enter")
    page.wait_for_function(
        "() => window.layerlab.charts.table.lrChanges.some(c => Math.abs(c.lr - 0.003) < 1e-9)",
        timeout=30_000)
    button(page, "Stop").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "stopped", timeout=30_000)
