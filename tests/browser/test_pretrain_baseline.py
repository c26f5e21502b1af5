"""Deep belief nets and the random-forest baseline on the page (issue 12; CONTRACTS.md §6
"Layer-wise pre-training", §7 "Baseline"; docs/EDITOR.md "Deep belief nets", "Baseline").

Pre-training: a chart of each layer's reconstruction error (one line per layer, named by its
node), the phase shaded on every chart, the layer being pre-trained marked on the canvas, its
hidden units' weights as pictures in the Filters tab, then fine-tuning; the Runs tab says which
run was pre-trained and which started from random weights. One half hands the page's run client
frames of the shapes the server sends (so the pictures are known exactly), the other trains the
digits DBN for real. The baseline: the Baseline button fits a random forest on the spiral, its
progress shows, its figure lies on the accuracy chart as a dashed level, its boundary can be shown
under the points, it comes back after a reload, and a design it cannot fit says why.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifact
from tests.browser.helpers import button, run_state, until_not_running, wait_points, wait_valid

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

RUN = "dbn00001"
# In the page: a deep belief net's run as the server streams it. h1 (8 x 8 digits in, 64 of its
# 128 hidden units pictured) pre-trains, then h2 (its visible units are h1's 128: strips), then
# fine-tuning. Each call hands over `n` metric points of one phase and a run_filters frame.
FAKE_DBN = r"""
window.fakeDbn = (() => {
  const rc = window.layerlab.runClient;
  let step = 0;
  // A unit's weights: a stroke at its own angle over an 8 x 8 patch (a learned pen stroke).
  const stroke = (u, t) => Array.from({ length: 64 }, (_, i) => {
    const x = (i % 8) - 3.5; const y = Math.floor(i / 8) - 3.5; const a = (u * 0.4) % Math.PI;
    const d = Math.abs(x * Math.sin(a) - y * Math.cos(a));
    return t * Math.exp(-d * d) - 0.3 * t;
  });
  const frame = (layer, units, shape, values) => {
    let lo = Infinity; let hi = -Infinity;
    for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const data = Uint8Array.from(values, (v) => Math.round(((v - lo) / (hi - lo || 1)) * 255));
    return { run_id: 'dbn00001', step, layer, units, frame: { shape, min: lo, max: hi, data } };
  };
  return (phase, layer, n, t) => {
    const points = Array.from({ length: n }, (_, k) => {
      step += 10;
      const epoch = phase === 'pretrain' ? 0 : k / n;
      const base = { step, epoch, time: step / 100, lr: 0.1, phase };
      const fall = Math.exp(-k / n);
      const scale = layer === 'h1' ? 0.08 : 0.03;
      const error = scale * fall + 0.01;
      if (phase === 'pretrain') return { ...base, layer, reconstruction_error: error };
      const left = Math.exp(-k / 6);
      const train = { train_loss: 2.3 * left + 0.1, train_accuracy: 1 - 0.9 * left };
      return { ...base, ...train, ...(k === n - 1 ? { val_loss: 0.2, val_accuracy: 0.95 } : {}) };
    });
    rc.route('metrics', { run_id: 'dbn00001', points });
    if (layer === 'h1') {
      const strokes = Array.from({ length: 64 }, (_, u) => stroke(u, t)).flat();
      rc.route('filters', frame('h1', 128, [64, 8, 8], strokes));
    } else if (layer === 'h2') {
      rc.route('filters', frame('h2', 64, [64, 1, 128],
        Array.from({ length: 64 * 128 }, (_, i) => t * Math.sin(i * 0.37) * Math.cos(i * 0.011))));
    }
    rc.route('status', { run_id: 'dbn00001', step });
    return new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  };
})();
"""


def open_dbn(page) -> None:
    """The digits deep belief net from the Examples menu."""
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name="Digits deep belief net").click()
    expect(page.locator('[data-node-id="h2"]')).to_be_visible()
    wait_valid(page)


def training_field(page, name: str, value: str) -> None:
    """Type a value into a field of the training form (shown with no layer selected)."""
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    field = page.locator(f'.training-form [name="{name}"]')
    if field.evaluate("e => e.tagName") == "SELECT":
        field.select_option(value)
    else:
        field.fill(value)
        field.press("Enter")
    wait_valid(page)


def fake_dbn_run(page) -> None:
    """Make the page show run dbn00001 of the open DBN, live, owned by it (control answered ok)."""
    page.route(f"**/api/runs/{RUN}", lambda route: route.fulfill(json={
        "run_id": RUN, "status": {"state": "running"}, "history": [], "design_key": None}))
    page.evaluate("""() => {
      const app = window.layerlab;
      const request = app.conn.request.bind(app.conn);
      app.conn.request = (event, payload, timeout) => (payload?.run_id === 'dbn00001'
        ? Promise.resolve({ ok: true, checkpoints: [] }) : request(event, payload, timeout));
      app.runClient.adopt('dbn00001', 'token', app.store.doc);
      app.charts.reset([]);
      const status = { run_id: 'dbn00001', state: 'running', step: 0, device: 'cpu' };
      app.runClient.route('status', status);
    }""")
    page.evaluate(FAKE_DBN)


def push(page, phase: str, layer: str | None, n: int, t: float) -> None:
    page.evaluate("([p, l, n, t]) => window.fakeDbn(p, l, n, t)", [phase, layer, n, t])


def chart_names(page) -> list[str]:
    return page.eval_on_selector_all("[data-chart]:not([hidden])",
                                     "els => els.map(e => e.dataset.chart)")


def test_pre_training_shows_each_layer_its_filters_and_the_phase(page):
    open_dbn(page)
    fake_dbn_run(page)
    push(page, "pretrain", "h1", 12, 0.6)
    # The pre-training chart comes first, one line per layer, named by its node.
    assert chart_names(page) == ["pretrain", "loss", "accuracy"]
    pretrain = page.locator('[data-chart="pretrain"]')
    expect(pretrain.locator(".chart-title")).to_have_text("Pre-training")
    expect(pretrain.locator(".chart-latest")).to_contain_text("h1 ")
    wait_points(page, 12, "pretrain")
    # The layer being pre-trained is marked on the canvas, with its badge; no other is.
    h1 = page.locator('[data-node-id="h1"]')
    expect(h1).to_have_class(re.compile(r"\bis-pretraining\b"))
    expect(h1.locator(".node-phase")).to_have_text("pre-training")
    expect(h1.locator(".node-phase")).to_be_visible()
    expect(page.locator(".node.is-pretraining")).to_have_count(1)
    expect(page.locator(".progress-text")).to_contain_text("Pre-training h1")
    # Its hidden units' weights: the Filters tab opens at them, 64 pictures of 8 x 8.
    filters = page.locator(".if-canvas")
    expect(page.locator("#insight-filters")).to_be_visible()
    expect(filters).to_have_attribute("data-layer", "h1")
    expect(filters).to_have_attribute("data-units", "64")
    expect(filters).to_have_attribute("data-tile", "8x8")
    expect(page.locator(".if-title")).to_have_text("Layer h1: 64 of 128 hidden units")
    box = filters.bounding_box()
    assert box["width"] > 250 and abs(box["width"] - box["height"]) < 3, box  # 8 x 8 tiles
    page.screenshot(path=str(artifact("dbn-fake-h1.png")))
    # The next layer: its line joins the chart, the mark moves, its units are strips.
    push(page, "pretrain", "h2", 12, 0.8)
    expect(pretrain.locator(".chart-latest")).to_contain_text("h2 ")
    expect(page.locator('[data-node-id="h2"]')).to_have_class(re.compile(r"\bis-pretraining\b"))
    expect(page.locator(".node.is-pretraining")).to_have_count(1)
    expect(filters).to_have_attribute("data-layer", "h2")
    expect(filters).to_have_attribute("data-tile", "1x128")
    # Fine-tuning: the loss and accuracy curves as ever; nothing is marked any more.
    push(page, "train", None, 12, 1)
    wait_points(page, 12, "loss")
    wait_points(page, 12, "accuracy")
    expect(page.locator(".node.is-pretraining")).to_have_count(0)
    expect(page.locator(".progress-text")).not_to_contain_text("Pre-training")
    phases = page.evaluate("window.layerlab.charts.table.phases.map(p => [p.phase, p.layer])")
    assert phases == [["pretrain", "h1"], ["pretrain", "h2"], ["train", None]]
    expect(page.locator(".insight-caption").filter(has_text="was pre-trained")).to_be_visible()
    # Each layer keeps its last pictures: h1's come back with its button.
    page.locator('.if-layers [data-layer="h1"]').click()
    expect(filters).to_have_attribute("data-layer", "h1")
    expect(filters).to_have_attribute("data-tile", "8x8")
    page.screenshot(path=str(artifact("dbn-fake-finetuned.png")))
    page.locator(".dock").screenshot(path=str(artifact("dbn-fake-charts.png")))


@pytest.mark.parametrize("context", ["dark"], indirect=True)
def test_pre_training_reads_in_the_dark_theme(page):
    open_dbn(page)
    fake_dbn_run(page)
    push(page, "pretrain", "h1", 10, 0.7)
    push(page, "pretrain", "h2", 6, 0.7)
    expect(page.locator(".if-canvas")).to_have_attribute("data-layer", "h2")
    page.locator('.if-layers [data-layer="h1"]').click()
    expect(page.locator(".if-canvas")).to_have_attribute("data-tile", "8x8")
    page.screenshot(path=str(artifact("dbn-fake-dark.png")))


def test_the_digits_dbn_pre_trains_then_fine_tunes_and_compares_with_random_weights(page):
    open_dbn(page)
    training_field(page, "epochs", "3")
    training_field(page, "pretrain.epochs", "10")
    page.locator("input[name=speed]").fill("5")  # 100 steps a second: each layer pre-trains a while
    expect(page.locator(".speed-value")).to_have_attribute("data-speed", "100")
    button(page, "Train").click()
    marked = page.locator(".node.is-pretraining")
    expect(marked).to_have_count(1, timeout=60_000)
    wait_points(page, 3, "pretrain")
    # The pictures are of the layer the canvas marks (the frame follows the points).
    page.wait_for_function("""() => {
      const node = document.querySelector('.node.is-pretraining');
      const pictures = document.querySelector('.if-canvas');
      return node && pictures.dataset.layer === node.dataset.nodeId
        && +pictures.dataset.units === 64;
    }""", timeout=30_000)
    button(page, "Pause").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "paused")
    layer = marked.get_attribute("data-node-id")
    assert layer in ("h1", "h2")
    expect(marked.locator(".node-phase")).to_be_visible()
    tile = "8x8" if layer == "h1" else "1x128"  # h2's visible units are h1's 128
    expect(page.locator(".if-canvas")).to_have_attribute("data-tile", tile)
    expect(page.locator(".progress-text")).to_contain_text(f"Pre-training {layer}")
    page.screenshot(path=str(artifact("dbn-live-pretraining.png")))
    button(page, "Resume").click()
    until_not_running(page, timeout=120_000)
    expect(run_state(page)).to_have_attribute("data-run-state", "finished")
    expect(marked).to_have_count(0)
    # Both layers' reconstruction errors, then the fine-tuning curves.
    assert chart_names(page) == ["pretrain", "loss", "accuracy"]
    for node in ("h1", "h2"):
        expect(page.locator('[data-chart="pretrain"] .chart-latest')).to_contain_text(f"{node} ")
    wait_points(page, 3, "loss")
    page.locator('.if-layers [data-layer="h1"]').click()
    expect(page.locator(".if-canvas")).to_have_attribute("data-tile", "8x8")
    page.screenshot(path=str(artifact("dbn-live-finished.png")))
    # The same design from random weights: the Runs tab says which run is which.
    first = page.evaluate("window.layerlab.runClient.runId")
    training_field(page, "pretrain.method", "none")
    button(page, "Train").click()
    page.wait_for_function("r => window.layerlab.runClient.runId !== r", arg=first, timeout=30_000)
    until_not_running(page, timeout=60_000)
    assert chart_names(page) == ["loss", "accuracy"]  # no pre-training this time
    page.locator('.insight-tab[data-tab="runs"]').click()
    row = page.locator(f'[data-compare-run="{first}"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator(".ic-init")).to_have_text(" · pre-trained (RBM)")
    expect(page.locator(".ic-this .ic-init")).to_have_text(" · random initialisation")
    expect(page.locator(".ic-note")).to_contain_text("start of fine-tuning")
    page.wait_for_function("() => +document.querySelector('.ic-chart').dataset.series >= 2",
                           timeout=20_000)
    page.screenshot(path=str(artifact("dbn-compare.png")))


# -- the baseline ----------------------------------------------------------------------------------

RECORD_PROGRESS = """() => {
  window.baselineSeen = { events: 0, bar: 0 };
  window.layerlab.conn.on('baseline_progress', () => { window.baselineSeen.events += 1; });
  const bar = document.querySelector('.baseline-bar');
  new MutationObserver(() => {
    const now = +(bar.getAttribute('aria-valuenow') || 0);
    window.baselineSeen.bar = Math.max(window.baselineSeen.bar, now);
  }).observe(bar, { attributes: true });
}"""


def test_the_baseline_draws_its_level_and_its_boundary_and_comes_back(page):
    wait_valid(page)  # the spiral starter
    page.evaluate(RECORD_PROGRESS)
    button(page, "Baseline").click()
    card = page.locator(".baseline")
    expect(card).to_have_attribute("data-baseline", "done", timeout=60_000)
    text = page.locator(".baseline-text").inner_text()
    assert re.fullmatch(r"random forest \d{2,3}(\.\d)?%", text), text
    seen = page.evaluate("window.baselineSeen")
    assert seen["events"] >= 1 and seen["bar"] == 100, seen  # the bar followed baseline_progress
    # Before training, the accuracy chart says the level to beat; the legend names the line.
    accuracy = page.locator('[data-chart="accuracy"]')
    expect(accuracy).to_have_class(re.compile(r"\bhas-baseline\b"))
    expect(accuracy.locator(".chart-empty-baseline")).to_contain_text("random forest")
    expect(page.locator(".dock-legend")).to_contain_text("random forest")
    # The forest's boundary under the points, in the preview and the Boundary tab.
    toggle = page.get_by_label("Show forest boundary")
    toggle.check()
    expect(page.locator(".preview-canvas")).to_have_attribute("data-forest", "shown")
    button(page, "Insight").click()
    page.locator('.insight-tab[data-tab="boundary"]').click()
    expect(page.locator(".ib-canvas")).to_have_attribute("data-forest", "shown")
    expect(page.locator("#insight-boundary .insight-caption")).to_contain_text("random forest")
    page.screenshot(path=str(artifact("baseline-forest-boundary.png")))
    toggle.uncheck()
    expect(page.locator(".preview-canvas")).not_to_have_attribute("data-forest", "shown")
    expect(page.locator(".ib-canvas")).not_to_have_attribute("data-forest", "shown")
    # Trained, the network's curves climb to the dashed level.
    training_field(page, "epochs", "40")
    button(page, "Train").click()
    until_not_running(page)
    wait_points(page, 5, "accuracy")
    expect(accuracy).to_have_attribute("data-baseline", re.compile(r"^0\.\d+$"))
    page.screenshot(path=str(artifact("baseline-spiral-trained.png")))
    page.locator(".dock").screenshot(path=str(artifact("baseline-spiral-chart.png")))
    # The design's stored baseline comes back with the page: from the fit this page remembers,
    # and, with that forgotten, from the design_key of its run.
    for forget in (False, True):
        if forget:
            page.evaluate("localStorage.removeItem('layerlab.baselines.v1')")
        page.reload()
        page.wait_for_selector("body:not(.is-loading)")
        expect(card).to_have_attribute("data-baseline", "done", timeout=15_000)
        expect(page.locator(".baseline-text")).to_have_text(text)
        expect(accuracy).to_have_class(re.compile(r"\bhas-baseline\b"))


@pytest.mark.parametrize("context", ["dark"], indirect=True)
def test_the_baseline_reads_in_the_dark_theme(page):
    wait_valid(page)
    button(page, "Baseline").click()
    expect(page.locator(".baseline")).to_have_attribute("data-baseline", "done", timeout=60_000)
    page.get_by_label("Show forest boundary").check()
    expect(page.locator(".preview-canvas")).to_have_attribute("data-forest", "shown")
    page.locator(".run-card").screenshot(path=str(artifact("baseline-card-dark.png")))
    page.screenshot(path=str(artifact("baseline-dark.png")))


def test_a_design_the_forest_cannot_fit_says_why(page):
    # Kinds whose catalog entry has no baseline (gan, dqn) show no Baseline button at all.
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name=re.compile("GAN: two Gaussians")).click()
    wait_valid(page)
    expect(page.locator(".baseline")).to_be_hidden()
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name="Digits autoencoder").click()
    wait_valid(page)
    button(page, "Baseline").click()
    card = page.locator(".baseline")
    expect(card).to_have_attribute("data-baseline", "failed", timeout=60_000)
    error = page.locator(".baseline-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("reconstructs its input")
    expect(page.locator('[data-chart][data-baseline]')).to_have_count(0)
    page.locator(".run-card").screenshot(path=str(artifact("baseline-refused.png")))
    # Another design clears the message.
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name="Spiral MLP").click()
    expect(error).to_be_hidden()
