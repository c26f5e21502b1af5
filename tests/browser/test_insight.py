"""Live insight: the Insight panel's boundary, layers, results, sample picking, timeline and run
comparison, driven through the real page (docs/EDITOR.md, "Insight")."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageLog, artifact, watch
from tests.browser.helpers import button, run_state, until_not_running, wait_valid

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
PIXELS = "c => c.toDataURL()"
CHECKPOINTS = "n => +document.querySelector('.insight-foot').dataset.checkpoints >= n"
LATER_AND_DIFFERENT = """([step, pixels]) => {
  const c = document.querySelector('.ib-canvas');
  return +c.dataset.step > step && c.toDataURL() !== pixels;
}"""
COLOURS = """c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const seen = new Set();
  for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  return seen.size;
}"""


def open_example(page, name: str, epochs: str) -> None:
    """Open a starter design and set its epochs ("" trains until stopped)."""
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name=name).click()
    wait_valid(page)
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    page.fill(".training-form [name=epochs]", epochs)
    wait_valid(page)


def show_tab(page, tab: str) -> None:
    """Open the Insight panel (if closed) at a tab."""
    if not page.locator(".insight").is_visible():
        button(page, "Insight").click()
    page.locator(f'.insight-tab[data-tab="{tab}"]').click()
    expect(page.locator(f"#insight-{tab}")).to_be_visible()


def step_of(locator) -> int:
    return int(locator.get_attribute("data-step") or -1)


def test_the_spiral_boundary_changes_as_training_proceeds(page):
    open_example(page, "Spiral MLP", "")
    page.locator(".preview-canvas").click()  # click the small preview: the boundary enlarges
    button(page, "Train").click()
    boundary = page.locator(".ib-canvas")
    expect(boundary).to_have_attribute("data-step", re.compile(r"^\d+$"), timeout=30_000)
    first_step = step_of(boundary)
    first = boundary.evaluate(PIXELS)
    # Later frames of a converged model can match to the byte: wait for one that differs.
    page.wait_for_function(LATER_AND_DIFFERENT, arg=[first_step + 400, first], timeout=30_000)
    assert boundary.evaluate(COLOURS) > 50  # a shaded plane, not a blank square
    page.get_by_label("Discretize").check()
    expect(page.locator(".ib-legend")).to_have_attribute("data-mode", "probability")
    page.screenshot(path=str(artifact("insight-boundary.png")))
    page.get_by_label("Discretize").uncheck()
    button(page, "Stop").click()
    until_not_running(page)


def test_a_conv_node_shows_its_feature_maps_when_enlarged(page):
    open_example(page, "LeNet-style CNN", "3")
    button(page, "Train").click()
    thumb = page.locator('[data-node-id="conv1"] .node-viz')
    expect(thumb).to_be_visible(timeout=30_000)
    thumb.click()
    picture = page.locator(".il-canvas")
    expect(picture).to_have_attribute("data-node", "conv1")
    expect(picture).to_have_attribute("data-kind", "maps")
    expect(picture).to_have_attribute("data-tiles", "16")
    assert picture.evaluate(COLOURS) > 16
    expect(page.locator(".il-weights")).to_be_visible()  # conv1's weights: a histogram
    page.locator("select[name=insight_layer]").select_option("out")
    expect(picture).to_have_attribute("data-kind", "units")
    page.locator("select[name=insight_layer]").select_option("conv1")
    assert until_not_running(page) == "finished"
    page.screenshot(path=str(artifact("insight-feature-maps.png")))


@pytest.mark.parametrize("context", ["dark"], indirect=True)
def test_the_confusion_matrix_fills_for_digits(page, tmp_path):
    from server.data import load_dataset

    open_example(page, "LeNet-style CNN", "3")
    button(page, "Train").click()
    assert until_not_running(page) == "finished"
    show_tab(page, "results")
    matrix = page.locator(".ir-matrix")
    expect(matrix).to_have_attribute("data-classes", "10", timeout=20_000)
    spec = page.evaluate("window.layerlab.runClient.document.training.dataset")
    validation = len(load_dataset(spec, tmp_path).y_val)
    counts = page.eval_on_selector_all(".ir-cell", "els => els.map(e => +e.dataset.count)")
    total = int(matrix.get_attribute("data-total"))
    assert len(counts) == 100 and sum(counts) == validation == total
    expect(page.locator(".ir-sample")).to_have_count(32)  # the fixed samples with their predictions
    page.screenshot(path=str(artifact("insight-confusion-dark.png")))


def test_selecting_a_sample_changes_the_activation_picture(page):
    open_example(page, "LeNet-style CNN", "")
    button(page, "Train").click()
    thumb = page.locator('[data-node-id="conv1"] .node-viz')
    expect(thumb).to_be_visible(timeout=30_000)
    button(page, "Pause").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "paused", timeout=30_000)
    thumb.click()
    picture = page.locator(".il-canvas")
    expect(picture).to_have_attribute("data-node", "conv1")
    samples = page.locator(".il-sample")
    expect(samples).to_have_count(32)
    before = picture.evaluate(PIXELS)
    samples.nth(5).click()
    expect(page.locator('.il-sample[data-sample="5"]')).to_have_attribute("aria-selected", "true")
    page.wait_for_function("b => document.querySelector('.il-canvas').toDataURL() !== b",
                           arg=before, timeout=20_000)
    expect(picture).to_have_attribute("data-sample", "5")
    page.screenshot(path=str(artifact("insight-pick-sample.png")))
    button(page, "Stop").click()
    until_not_running(page)


def test_the_timeline_shows_an_earlier_step_also_to_the_audience(page, context, base_url):
    open_example(page, "Spiral MLP", "")
    button(page, "Train").click()
    show_tab(page, "boundary")
    foot = page.locator(".insight-foot")
    page.wait_for_function(CHECKPOINTS, arg=4, timeout=60_000)
    button(page, "Stop").click()
    until_not_running(page)
    boundary = page.locator(".ib-canvas")
    page.wait_for_function("() => document.querySelector('.ib-canvas').dataset.step"
                           " == window.layerlab.runClient.status.step", timeout=20_000)
    final = step_of(boundary)
    page.locator("input[name=timeline]").fill("1")
    expect(foot).not_to_have_attribute("data-step", "live")
    earlier = step_of(foot)
    assert 0 <= earlier < final
    # A checkpoint holds the newest picture of each kind when it was taken: made at or before it.
    page.wait_for_function("s => +document.querySelector('.ib-canvas').dataset.step <= s",
                           arg=earlier)
    shown = step_of(boundary)
    expect(page.locator(".dock")).to_have_attribute("data-marker", str(earlier))  # charts mark it
    expect(page.locator(".seek-pill")).to_be_visible()
    page.screenshot(path=str(artifact("insight-timeline.png")))
    page.locator(".it-live").click()
    expect(foot).to_have_attribute("data-step", "live")
    expect(boundary).to_have_attribute("data-step", str(final))

    audience = context.new_page()
    log = PageLog()
    watch(audience, log)
    audience.goto(f"{base_url}/run/{page.evaluate('window.layerlab.runClient.runId')}")
    expect(audience.locator(".insight")).to_be_visible(timeout=20_000)  # opens by itself there
    audience.locator('.insight-tab[data-tab="boundary"]').click()
    audience.wait_for_function(CHECKPOINTS, arg=4)
    audience.locator("input[name=timeline]").fill("1")
    expect(audience.locator(".insight-foot")).to_have_attribute("data-step", str(earlier))
    expect(audience.locator(".ib-canvas")).to_have_attribute("data-step", str(shown))
    audience.screenshot(path=str(artifact("insight-audience-timeline.png")))
    assert not log.errors, log.errors
    assert not log.foreign, log.foreign


def test_compare_runs_lists_a_previous_run(page):
    open_example(page, "Spiral MLP", "20")
    button(page, "Train").click()
    assert until_not_running(page) == "finished"
    first = page.evaluate("window.layerlab.runClient.runId")
    page.fill("input[name=lr]", "0.03")
    page.press("input[name=lr]", "Enter")
    button(page, "Train").click()
    expect(run_state(page)).not_to_have_attribute("data-run-state", "finished")
    assert until_not_running(page) == "finished"
    show_tab(page, "runs")
    row = page.locator(f'[data-compare-run="{first}"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator("b", has_text="lr 0.01")).to_be_visible()  # the setting that differs
    expect(page.locator(".ic-chart")).to_have_attribute("data-series", "2", timeout=20_000)
    row.locator("input[type=checkbox]").uncheck()
    expect(page.locator(".ic-chart")).to_have_attribute("data-series", "1")
    row.locator("input[type=checkbox]").check()
    expect(page.locator(".ic-chart")).to_have_attribute("data-series", "2")
    page.screenshot(path=str(artifact("insight-compare.png")))
