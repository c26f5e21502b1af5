"""Starter designs train; the audience page watches a run read-only; themes; shortcuts help."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageLog, artifact, watch
from tests.browser.helpers import button, set_epochs, until_not_running, wait_points, wait_valid

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
LAYER_TYPES = "els => els.map(e => e.dataset.layerType)"


def open_example(page, name: str) -> None:
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name=name).click()
    wait_valid(page)


def test_starter_cnn_trains_on_digits(page):
    open_example(page, "LeNet-style CNN")
    expect(page.locator("select[name=dataset]")).to_have_value("digits")
    expect(page.locator('[data-node-id="in"] .node-shape')).to_have_text("[1, 8, 8]")
    set_epochs(page, "4")
    button(page, "Train").click()
    assert until_not_running(page) == "finished"
    wait_points(page, 2, chart="accuracy")
    expect(page.locator(".progress-text")).to_contain_text("Epoch 4 / 4")
    val = page.evaluate("window.layerlab.charts.table.last('val_accuracy')")
    assert val is not None and val > 0.5, val
    page.screenshot(path=str(artifact("digits-cnn-trained.png")))


def test_audience_page_watches_the_run_read_only(page, context, base_url):
    open_example(page, "Spiral MLP")
    set_epochs(page, "20")
    button(page, "Train").click()
    assert until_not_running(page) == "finished"
    run_id = page.evaluate("window.layerlab.runClient.runId")
    audience = context.new_page()
    log = PageLog()
    watch(audience, log)
    audience.goto(f"{base_url}/run/{run_id}")
    expect(audience.locator("[data-run-state]")).to_have_attribute("data-run-state", "finished")
    wait_points(audience, 1)
    expect(audience.locator("[data-node-id]")).to_have_count(6)
    expect(audience.locator("[data-layer-type]")).to_have_count(0)
    expect(audience.get_by_role("button", name="Train", exact=True)).to_have_count(0)
    audience.screenshot(path=str(artifact("audience-page.png")))
    assert not log.errors, log.errors
    assert not log.foreign, log.foreign


@pytest.mark.parametrize("context", ["dark"], indirect=True)
def test_dark_theme_follows_the_system_and_toggles(page):
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.screenshot(path=str(artifact("dark-theme.png")))
    page.get_by_role("button", name="Switch light or dark theme").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    page.reload()
    page.wait_for_selector("body:not(.is-loading)")
    assert page.evaluate("document.documentElement.dataset.theme") == "light"


def test_page_is_readable_and_self_contained(page):
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 15
    for name in ["Train", "Pause", "Step", "Stop", "Export ONNX", "New", "Save"]:
        expect(button(page, name)).to_have_count(1)
    expect(page.locator("select[name=dataset]")).to_have_count(1)
    expect(page.locator("[data-run-state]")).to_have_count(1)
    expect(page.locator('[data-chart="loss"]')).to_have_attribute("data-points", "0")
    expect(page.locator('[data-chart="accuracy"]')).to_have_count(1)
    types = page.eval_on_selector_all("[data-layer-type]", LAYER_TYPES)
    catalog = page.evaluate("() => fetch('/api/layers').then(r => r.json())"
                            ".then(l => l.map(x => x.type))")
    assert sorted(types) == sorted(catalog)
    page.fill("input[name=layer_search]", "pool")
    visible = page.eval_on_selector_all("[data-layer-type]", LAYER_TYPES)
    assert visible and all("Pool" in t for t in visible)


def test_reload_during_training_keeps_the_run_and_its_control(page):
    open_example(page, "Spiral MLP")
    set_epochs(page, "")
    button(page, "Train").click()
    expect(page.locator("[data-run-state]")).to_have_attribute("data-run-state", "running",
                                                              timeout=60_000)
    wait_points(page, 3)
    page.reload()
    page.wait_for_selector("body:not(.is-loading)")
    expect(page.locator("[data-run-state]")).to_have_attribute("data-run-state", "running")
    wait_points(page, 3)
    button(page, "Stop").click()
    expect(page.locator("[data-run-state]")).to_have_attribute("data-run-state", "stopped",
                                                              timeout=30_000)
