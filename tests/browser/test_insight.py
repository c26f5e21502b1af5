"""Live insight: the Insight panel's boundary, layers, results, sample picking, timeline and run
comparison, driven through the real page (docs/EDITOR.md, "Insight")."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageLog, artifact, watch
from tests.browser.helpers import button, run_state, set_epochs, until_not_running, wait_valid

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
    set_epochs(page, epochs)


def show_tab(page, tab: str) -> None:
    """Open the Insight panel (if closed) at a tab."""
    if not page.locator(".insight").is_visible():
        button(page, "Insight").click()
    page.locator(f'.insight-tab[data-tab="{tab}"]').click()
    expect(page.locator(f"#insight-{tab}")).to_be_visible()


def enlarge(page, node_id: str):
    """Click a node's picture once it shows; the enlarged picture (.il-canvas)."""
    thumb = page.locator(f'[data-node-id="{node_id}"] .node-viz')
    expect(thumb).to_be_visible(timeout=30_000)
    thumb.click()
    return page.locator(".il-canvas")


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
    picture = enlarge(page, "conv1")
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


LONE_RING = """() => {
  // A fixed sample whose ring no other ring overlaps (a click on it can pick only it).
  const b = window.layerlab.insight.boundary;
  const at = b.samples.points.map((_, i) => b.ringAt(i));
  const alone = ([x, y], i) => at.every(([u, v], j) => j === i || Math.hypot(x - u, y - v) > 30);
  return at.findIndex((p, i) => i > 0 && alone(p, i));
}"""
PIXEL = """([x, y]) => {
  const c = document.querySelector('.ib-canvas');
  const k = c.width / c.clientWidth;
  const px = c.getContext('2d').getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data;
  return Array.from(px.slice(0, 3));
}"""
FOLLOWS = "i => window.layerlab.runClient.latest.activations?.selected === i"


def test_a_spiral_sample_picked_on_the_boundary_is_followed_through_the_layers(page, tmp_path):
    from server.data import load_dataset

    open_example(page, "Spiral MLP", "")
    button(page, "Train").click()
    show_tab(page, "boundary")
    boundary = page.locator(".ib-canvas")
    expect(boundary).to_have_attribute("data-samples", "32", timeout=30_000)
    expect(boundary).to_have_attribute("data-selected", "0")
    index = page.evaluate(LONE_RING)
    assert index > 0
    x, y = page.evaluate(f"window.layerlab.insight.boundary.ringAt({index})")
    box = boundary.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    expect(boundary).to_have_attribute("data-selected", str(index))
    page.wait_for_function(FOLLOWS, arg=index, timeout=20_000)  # the server follows it
    accent = page.evaluate("() => getComputedStyle(document.documentElement)"
                           ".getPropertyValue('--accent').trim()")
    rgb = [int(accent[i:i + 2], 16) for i in (1, 3, 5)]
    across = [page.evaluate(PIXEL, [x + dx, y]) for dx in range(6, 15)]  # the wide ring
    assert any(max(abs(a - b) for a, b in zip(pixel, rgb, strict=True)) < 40 for pixel in across)
    spec = page.evaluate("window.layerlab.runClient.document.training.dataset")
    data = load_dataset(spec, tmp_path)
    px, py = data.x_val[index]
    page.mouse.move(box["x"] - 20, box["y"])  # off the plot: the readout names the followed one
    expect(page.locator("#insight-boundary .ib-readout")).to_contain_text(
        f"Following sample #{index}: ({px:.2f}, {py:.2f})")
    page.screenshot(path=str(artifact("insight-follow-boundary.png")))

    show_tab(page, "layer")
    followed = page.locator(".il-followed")
    expect(followed).to_have_attribute("data-sample", str(index))
    expect(followed).to_contain_text(f"({px:.2f}, {py:.2f}) · class {data.y_val[index]}")
    expect(page.locator(".il-canvas")).to_have_attribute("data-sample", str(index))
    expect(page.locator(".il-values")).to_be_visible()  # the sample's value in each unit
    expect(page.locator(f'.il-sample[data-sample="{index}"]')).to_have_attribute(
        "aria-selected", "true")
    page.screenshot(path=str(artifact("insight-follow-layer.png")))

    show_tab(page, "results")  # the list of a 2-D classifier picks too
    line = page.locator('.ir-line[data-sample="3"]' if index != 3 else '.ir-line[data-sample="4"]')
    expect(line).to_be_enabled(timeout=20_000)
    line.click()
    expect(line).to_have_attribute("aria-pressed", "true")
    picked = int(line.get_attribute("data-sample"))
    page.wait_for_function(FOLLOWS, arg=picked, timeout=20_000)
    show_tab(page, "boundary")
    expect(boundary).to_have_attribute("data-selected", str(picked))
    button(page, "Stop").click()
    until_not_running(page)


def test_a_sine_sample_is_followed_from_its_line_plot(page):
    open_example(page, "LSTM on sine", "")
    button(page, "Train").click()
    picture = enlarge(page, "lstm")
    expect(picture).to_have_attribute("data-kind", "sequence")  # hidden state over time
    samples = page.locator(".il-sample")
    expect(samples).to_have_count(32)
    expect(page.locator(".il-sequence")).to_be_visible()
    samples.nth(6).click()
    expect(page.locator(".il-followed")).to_have_attribute("data-sample", "6")
    expect(page.locator(".il-followed")).to_contain_text("20 steps · next value")
    page.wait_for_function(FOLLOWS, arg=6, timeout=20_000)
    expect(picture).to_have_attribute("data-sample", "6")
    page.screenshot(path=str(artifact("insight-follow-sequence.png")))
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
