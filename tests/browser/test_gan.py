"""GAN runs live on the page (issue 10 §2; CONTRACTS.md §6, the `gan` kind): the run card's
Step D / Step G / Step both and the generator's learning rate, the loss, discriminator and MMD
charts, the Generated tab (real and generated points over D(x), gradient arrows, the manifold,
the game's badges, or a grid of generated images), the timeline and the Runs tab.

Two halves. The first drives the page with a training catalog and run frames of the shapes the
server sends (GET /api/training intercepted, events handed to the page's own run client), so it
runs against any server. The second trains real gans and skips, saying why, while the server
does not list a `gan` kind at GET /api/training.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifact
from tests.browser.helpers import (
    button,
    connect,
    drag_layer,
    new_design,
    run_state,
    set_param,
    until_not_running,
    wait_points,
    wait_valid,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

# The catalog GET /api/training serves, as far as the page reads it (the kinds; fields elided).
CATALOG = {"fields": [], "kinds": [
    {"name": "supervised", "doc": "Learn the dataset's targets.", "hparams": [{"name": "lr"}],
     "steps": [{"name": "both", "label": "Step"}],
     "metrics": [{"name": "train_loss", "doc": "", "chart": "loss"},
                 {"name": "val_loss", "doc": "", "chart": "loss"},
                 {"name": "train_accuracy", "doc": "", "chart": "accuracy"},
                 {"name": "val_accuracy", "doc": "", "chart": "accuracy"},
                 {"name": "lr", "doc": "", "chart": None}]},
    {"name": "gan", "doc": "A generator and a discriminator trained as a two-player game.",
     "hparams": [{"name": "lr", "label": "Discriminator lr"},
                 {"name": "generator_lr", "label": "Generator lr"}],
     "steps": [{"name": "d", "label": "Step D"}, {"name": "g", "label": "Step G"},
               {"name": "both", "label": "Step both"}],
     "metrics": [{"name": "d_loss", "doc": "The discriminator's loss", "chart": "loss"},
                 {"name": "g_loss", "doc": "The generator's loss", "chart": "loss"},
                 {"name": "d_real", "doc": "Mean D on real samples", "chart": "discriminator"},
                 {"name": "d_fake", "doc": "Mean D on generated samples", "chart": "discriminator"},
                 {"name": "mmd", "doc": "Squared MMD to the validation split", "chart": "mmd"},
                 {"name": "lr", "doc": "", "chart": None},
                 {"name": "generator_lr", "doc": "", "chart": None}]},
]}

# A gan design as the palette test builds it: Noise -> Linear -> ReLU -> Linear(2) -> Input ->
# Linear -> LeakyReLU -> Linear(1).
GAN_DOC = {
    "format": "layerlab.network", "version": 1, "name": "Tiny GAN",
    "nodes": [
        {"id": "z", "type": "Noise", "params": {"dim": 2}, "ui": {"x": 40, "y": 60}},
        {"id": "g1", "type": "Linear", "params": {"out_features": 16}, "ui": {"x": 220, "y": 60}},
        {"id": "ga1", "type": "ReLU", "ui": {"x": 400, "y": 60}},
        {"id": "g2", "type": "Linear", "params": {"out_features": 2}, "ui": {"x": 580, "y": 60}},
        {"id": "in", "type": "Input", "params": {"shape": [2]}, "ui": {"x": 40, "y": 240}},
        {"id": "d1", "type": "Linear", "params": {"out_features": 16}, "ui": {"x": 220, "y": 240}},
        {"id": "da1", "type": "LeakyReLU", "ui": {"x": 400, "y": 240}},
        {"id": "d2", "type": "Linear", "params": {"out_features": 1}, "ui": {"x": 580, "y": 240}},
    ],
    "edges": [{"source": a, "target": b} for a, b in
              [("z", "g1"), ("g1", "ga1"), ("ga1", "g2"), ("g2", "in"), ("in", "d1"),
               ("d1", "da1"), ("da1", "d2")]],
    "training": {"kind": "gan", "dataset": {"name": "gaussian", "seed": 0},
                 "optimizer": {"name": "adam", "lr": 0.002}, "batch_size": 64, "seed": 0,
                 "gan": {"loss": "log", "d_steps": 1, "g_steps": 1,
                         "generator_optimizer": {"name": "adam", "lr": 0.001}}},
}

# In the page: run frames of the shapes the server sends for a gan on the two Gaussians, the
# game `t` of the way (0: an untrained generator's tight blob, 1: on the data, D(x) = 0.5).
FAKE_GAME = r"""
window.fakeGame = (() => {
  const rng = (seed) => () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const normal = (r) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const r = rng(7);
  const real = Array.from({ length: 256 }, (_, i) => {
    const c = i % 2 ? 0.5 : -0.5;
    return [c + 0.15 * normal(r), c + 0.15 * normal(r)];
  });
  const z = Array.from({ length: 256 }, () => [normal(r), normal(r)]);
  const g = ([a, b], t) => [(1 - t) * (0.1 + 0.04 * a) + t * (0.5 * Math.tanh(2 * a) + 0.1 * b),
    (1 - t) * (-0.3 + 0.04 * b) + t * (0.5 * Math.tanh(2 * a) + 0.1 * b * Math.sign(a))];
  const near = (pts, x, y) => pts.reduce((s, [px, py]) =>
    s + Math.exp(-((px - x) ** 2 + (py - y) ** 2) / 0.02), 0);
  const run = 'gan00001';
  return (step, t, { badges = [], images = false } = {}) => {
    const points = z.map((v) => g(v, t));
    const gradients = points.map(([x, y], i) =>
      [(real[i][0] - x) * (1 - t) * 0.3, (real[i][1] - y) * (1 - t) * 0.3]);
    const axis = Array.from({ length: 16 }, (_, k) => -3 + (6 * k) / 15);
    const grid = axis.flatMap((b) => axis.map((a) => g([a, b], t)));
    const data = new Uint8Array(64 * 64);
    for (let row = 0; row < 64; row += 1) {
      for (let col = 0; col < 64; col += 1) {
        const x = -1 + (2 * col) / 63;
        const y = 1 - (2 * row) / 63;
        const d = (near(real, x, y) - near(points, x, y)) / 20;
        data[row * 64 + col] = Math.round(255 / (1 + Math.exp(-d * 4 * (1 - t))));
      }
    }
    const mmd = 0.5 * (1 - t) ** 2 + 0.002;
    const boundary = { run_id: run, step, size: [64, 64], extent: [-1, 1, -1, 1], min: 0, max: 1,
      mode: 'probability', data };
    const pixels = Uint8Array.from({ length: 64 * 64 },
      (_, i) => Math.round(255 * Math.max(0, Math.sin(i * 0.37 + step) * t)));
    const generated = images
      ? { run_id: run, step, kind: 'images', badges, mmd,
        frame: { shape: [64, 1, 8, 8], min: 0, max: 16, data: pixels } }
      : { run_id: run, step, kind: 'points', points, gradients, real, extent: [-1, 1, -1, 1],
        manifold: { size: [16, 16], points: grid }, badges, mmd };
    const metrics = { run_id: run, points: Array.from({ length: 10 }, (_, k) => {
      const s = step - 9 + k;
      const u = Math.max(0, t - (9 - k) * 0.002);
      return { step: s, epoch: s / 10, time: s / 50, lr: 0.002, generator_lr: 0.001,
        d_loss: 1.386 - 0.5 * (1 - u) * Math.exp(-8 * u) + 0.02 * Math.sin(s),
        g_loss: 0.693 + 0.6 * (1 - u) + 0.02 * Math.cos(s),
        d_real: 0.5 + 0.4 * (1 - u) * Math.exp(-3 * u), d_fake: 0.5 - 0.35 * (1 - u),
        ...(k === 9 ? { mmd } : {}) };
    }) };
    return { boundary, generated, metrics };
  };
})();
"""

MODE_COLLAPSE = {"id": "mode_collapse", "title": "Mode collapse",
                 "message": "the generator makes nearly the same sample for every noise (spread "
                            "0.012 against the data's 0.51)",
                 "advice": "lower the generator's learning rate, raise d_steps, try the "
                           "least_squares loss or more noise dimensions"}


def open_document(page, doc: dict) -> None:
    """Open a document through the upload button, as a user would."""
    page.set_input_files("input[name=document_file]", files=[{
        "name": "gan.layerlab.json", "mimeType": "application/json",
        "buffer": json.dumps(doc).encode()}])
    expect(page.locator('[data-node-id="z"]')).to_be_visible()


def fake_run(page, *, state: str = "running") -> list[dict]:
    """Make the page show run gan00001 of GAN_DOC, owned by it; returns the control and
    set_hparams payloads the page sends (answered ok, never reaching the server)."""
    page.route("**/api/runs/gan00001", lambda route: route.fulfill(json={
        "run_id": "gan00001", "status": {"state": state}, "history": [], "design_key": None}))
    page.evaluate(FAKE_GAME)
    page.evaluate("""([doc, state]) => {
      const app = window.layerlab;
      window.sent = [];
      const request = app.conn.request.bind(app.conn);
      app.conn.request = (event, payload, timeout) => {
        if (payload?.run_id !== 'gan00001') return request(event, payload, timeout);
        if (event === 'control' || event === 'set_hparams') {
          window.sent.push({ event, ...payload });
          const next = payload.action === 'resume' ? 'running' : state;
          return Promise.resolve({ ok: true, state: next });
        }
        // The timeline: two checkpoints, each holding the frames a gan run keeps.
        if (event === 'timeline') {
          const checkpoints = [10, 20].map((step) => ({ step, epoch: step / 10, time: step / 50 }));
          return Promise.resolve({ ok: true, checkpoints });
        }
        if (event === 'seek') {
          const { boundary, generated } = window.fakeGame(payload.step, payload.step / 100);
          return Promise.resolve({ ok: true, step: payload.step, epoch: 1, time: 1,
            metrics_index: 0, boundary, generated });
        }
        return Promise.resolve({ ok: true });
      };
      app.runClient.adopt('gan00001', 'token', doc);
      app.charts.reset([]);
      app.runClient.route('status', { run_id: 'gan00001', state, step: 0, device: 'cpu' });
    }""", [GAN_DOC, state])
    return page.evaluate("window.sent")


def push_game(page, step: int, t: float, **options) -> None:
    """Hand the page one round of metrics and frames (boundary, generated)."""
    page.evaluate("""async ([step, t, options]) => {
      const rc = window.layerlab.runClient;
      const { boundary, generated, metrics } = window.fakeGame(step, t, options);
      rc.route('metrics', metrics);
      rc.route('boundary', boundary);
      rc.route('generated', generated);
      rc.route('status', { run_id: 'gan00001', step });
      for (let i = 0; i < 2; i += 1) { // drawn
        await new Promise((done) => requestAnimationFrame(done));
      }
    }""", [step, t, options])


@pytest.fixture
def catalog(page):
    """GET /api/training answers CATALOG (whatever the server under test serves)."""
    page.route("**/api/training", lambda route: route.fulfill(json=CATALOG))
    return CATALOG


def test_a_gan_design_gets_its_kinds_charts_steps_and_rates(page, catalog):
    open_document(page, GAN_DOC)
    # The charts are the kind's: loss (D and G), discriminator (in accuracy's place), MMD.
    expect(page.locator("[data-chart]")).to_have_count(3)
    assert page.eval_on_selector_all("[data-chart]", "els => els.map(e => e.dataset.chart)") == \
        ["loss", "discriminator", "mmd"]
    # Each line is named in its chart's caption; the dock's legend has the rate marks only.
    expect(page.locator(".dock-legend")).to_have_text("rate change")
    # The run card: Step D / Step G / Step both in place of Step, and the generator's rate.
    expect(button(page, "Step")).to_be_hidden()
    for label in ("Step D", "Step G", "Step both"):
        expect(button(page, label)).to_be_visible()
        expect(button(page, label)).to_be_disabled()  # no run yet
    expect(page.locator("input[name=generator_lr]")).to_have_value("0.001")
    expect(page.get_by_text("Discriminator lr")).to_be_visible()
    # Back to a supervised design: its two charts and the one Step button.
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name="Spiral MLP").click()
    expect(page.locator("[data-chart]")).to_have_count(2)
    assert page.eval_on_selector_all("[data-chart]", "els => els.map(e => e.dataset.chart)") == \
        ["loss", "accuracy"]
    expect(button(page, "Step")).to_be_visible()
    expect(button(page, "Step D")).to_have_count(0)
    expect(page.locator("input[name=generator_lr]")).to_have_count(0)


def test_a_gan_run_draws_the_game_and_steps_each_network(page, catalog):
    open_document(page, GAN_DOC)
    fake_run(page, state="running")
    push_game(page, 10, 0.0)
    generated = page.locator(".ig-canvas")
    expect(page.locator("#insight-generated")).to_be_visible()  # opened by the first frame
    expect(page.locator('.insight-tab[data-tab="boundary"]')).to_be_hidden()
    expect(page.locator('.insight-tab[data-tab="results"]')).to_be_hidden()
    expect(generated).to_have_attribute("data-step", "10")
    expect(generated).to_have_attribute("data-kind", "points")
    expect(generated).to_have_attribute("data-generated", "256")
    expect(generated).to_have_attribute("data-real", "256")
    expect(generated).to_have_attribute("data-manifold", "16x16")
    assert int(generated.get_attribute("data-arrows")) > 200
    first = generated.evaluate("c => c.toDataURL()")
    page.screenshot(path=str(artifact("gan-fake-start.png")))
    for k, t in enumerate((0.15, 0.3, 0.45, 0.6), start=2):
        push_game(page, 10 * k, t)
    expect(generated).to_have_attribute("data-step", "50")
    assert generated.evaluate("c => c.toDataURL()") != first
    assert int(generated.get_attribute("data-frames")) == 5
    wait_points(page, 50, "loss")
    wait_points(page, 50, "discriminator")
    wait_points(page, 5, "mmd")
    expect(page.locator('[data-chart="loss"] .chart-latest')).to_contain_text("G ")
    expect(page.locator('[data-chart="discriminator"] .chart-latest')).to_contain_text("fake ")
    # The game's badges, with what to try.
    push_game(page, 60, 0.62, badges=[MODE_COLLAPSE])
    badge = page.locator('.ig-badges [data-badge="mode_collapse"]')
    expect(badge).to_contain_text("Mode collapse")
    expect(badge).to_contain_text("Try:")
    expect(page.locator('.insight-tab[data-tab="generated"]')).to_have_attribute("data-badges", "1")
    page.screenshot(path=str(artifact("gan-fake-running.png")))
    page.locator(".dock").screenshot(path=str(artifact("gan-fake-charts.png")))
    page.locator(".insight").screenshot(path=str(artifact("gan-fake-generated.png")))
    # The timeline shows a checkpoint's generated samples, and comes back to live.
    page.locator("input[name=timeline]").fill("0")
    expect(page.locator(".insight-foot")).to_have_attribute("data-step", "10")
    expect(generated).to_have_attribute("data-step", "10")
    page.locator(".it-live").click()
    expect(generated).to_have_attribute("data-step", "60")
    # Paused: each step button sends its network.
    page.evaluate("window.layerlab.runClient.route('status', "
                  "{run_id: 'gan00001', state: 'paused'})")
    for label, network in (("Step D", "d"), ("Step G", "g"), ("Step both", "both")):
        button(page, label).click()
        page.wait_for_function("n => window.sent.filter(s => s.action === 'step').length >= n",
                               arg=["d", "g", "both"].index(network) + 1)
    steps = [s for s in page.evaluate("window.sent") if s.get("action") == "step"]
    assert [(s["network"], s["steps"]) for s in steps] == [("d", 1), ("g", 1), ("both", 1)]
    # The generator's rate goes to the run by its own name.
    rate = page.locator("input[name=generator_lr]")
    rate.fill("0.0005")
    rate.press("Enter")
    page.wait_for_function("() => window.sent.some(s => s.event === 'set_hparams')")
    hparams = [s for s in page.evaluate("window.sent") if s["event"] == "set_hparams"]
    assert hparams[-1]["generator_lr"] == 0.0005 and "lr" not in hparams[-1]
    assert page.evaluate("window.layerlab.store.doc.training.gan.generator_optimizer.lr") == 0.0005


def test_generated_images_show_as_a_grid(page, catalog):
    doc = json.loads(json.dumps(GAN_DOC))
    doc["training"]["dataset"] = {"name": "digits"}
    open_document(page, doc)
    fake_run(page)
    push_game(page, 40, 0.8, images=True)
    generated = page.locator(".ig-canvas")
    expect(generated).to_have_attribute("data-kind", "images")
    expect(generated).to_have_attribute("data-generated", "64")
    box = generated.bounding_box()
    assert 300 <= box["width"] <= 345 and abs(box["width"] - box["height"]) < 2  # 8 x 8
    expect(page.locator(".ig-toolbar")).to_be_hidden()  # no points to toggle
    page.screenshot(path=str(artifact("gan-fake-images.png")))


# -- against a server that trains gans -------------------------------------------------------------

def served_kinds(base_url: str) -> list[str]:
    try:
        with urllib.request.urlopen(base_url + "/api/training", timeout=10) as res:
            return [k.get("name") for k in json.load(res).get("kinds", [])]
    except (urllib.error.URLError, ValueError, OSError):
        return []


@pytest.fixture
def gan_server(base_url):
    """Skip unless the server under test trains gans (lists a `gan` kind at GET /api/training)."""
    if "gan" not in served_kinds(base_url):
        pytest.skip("the server does not know training kind gan yet (GET /api/training lists no "
                    "`gan` kind): the server side of issue 10 §2 has not landed")
    return base_url


def generated_step(page) -> int:
    return int(page.locator(".ig-canvas").get_attribute("data-step") or -1)


def generated_points(page) -> list:
    return page.evaluate("() => window.layerlab.insight.live.generated?.points || []")


def train_watch_and_step(page) -> None:
    """Train the open gan until stopped; watch it move; pause; step D, then G; stop; look
    back at an earlier checkpoint."""
    button(page, "Train").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "running", timeout=60_000)
    generated = page.locator(".ig-canvas")
    expect(page.locator("#insight-generated")).to_be_visible(timeout=30_000)
    expect(generated).to_have_attribute("data-kind", "points", timeout=30_000)
    page.wait_for_function("() => +document.querySelector('.ig-canvas').dataset.boundaryStep >= 0",
                           timeout=30_000)
    first_step, first = generated_step(page), generated_points(page)
    page.wait_for_function("s => +document.querySelector('.ig-canvas').dataset.step > s + 100",
                           arg=first_step, timeout=60_000)
    assert generated_points(page) != first  # the generator learned something
    wait_points(page, 20, "loss")
    wait_points(page, 20, "discriminator")
    page.screenshot(path=str(artifact("gan-live.png")))
    button(page, "Pause").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "paused")
    # A frame sent before the pause may still be on its way: compare from the paused step's.
    page.wait_for_function(
        "() => { const s = window.layerlab.runPanel.runClient.status;"
        " return s && s.state === 'paused'"
        " && +document.querySelector('.ig-canvas').dataset.step === s.step; }", timeout=30_000)
    for label in ("Step D", "Step G"):
        before = page.locator('[data-chart="loss"]').get_attribute("data-points")
        frames = int(generated.get_attribute("data-frames"))
        points = generated_points(page)
        button(page, label).click()
        # One more metric point and a fresh picture; only G's step moves the generated points.
        page.wait_for_function(
            "n => +document.querySelector('[data-chart=\"loss\"]').dataset.points > n",
            arg=int(before), timeout=30_000)
        page.wait_for_function("n => +document.querySelector('.ig-canvas').dataset.frames > n",
                               arg=frames, timeout=30_000)
        moved = generated_points(page) != points
        assert moved == (label == "Step G"), f"{label}: the generated points moved: {moved}"
    button(page, "Stop").click()
    until_not_running(page)
    final = generated_step(page)
    page.wait_for_function(
        "() => +document.querySelector('.insight-foot').dataset.checkpoints >= 2", timeout=30_000)
    page.locator("input[name=timeline]").fill("0")
    expect(page.locator(".insight-foot")).not_to_have_attribute("data-step", "live")
    page.wait_for_function("s => +document.querySelector('.ig-canvas').dataset.step < s", arg=final)
    page.locator(".it-live").click()
    expect(page.locator(".ig-canvas")).to_have_attribute("data-step", str(final))


def export_generator(page) -> None:
    with page.expect_download(timeout=60_000) as info:
        button(page, "Export ONNX").click()
    path = info.value.path()
    assert path and open(path, "rb").read(4), "an empty ONNX download"
    assert info.value.suggested_filename.endswith(".onnx")


def until_stopped(page) -> None:
    """Clear the training form's epochs and steps (the run goes on until Stop) and train at
    100 steps a second, so that the game is seen as it plays out on a fast machine too."""
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    for name in ("epochs", "steps"):
        field = page.locator(f".training-form [name={name}]")
        if field.count():
            field.fill("")
            field.press("Enter")
    page.locator("input[name=speed]").fill("5")
    expect(page.locator(".speed-value")).to_have_attribute("data-speed", "100")
    wait_valid(page)


def test_the_gaussians_starter_trains_as_a_game(page, gan_server):
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name=re.compile("GAN: two Gaussians")).click()
    wait_valid(page)
    until_stopped(page)
    train_watch_and_step(page)
    export_generator(page)
    # A second run with a slower generator: the Runs tab compares their G losses.
    first = page.evaluate("window.layerlab.runClient.runId")
    rate = page.locator("input[name=generator_lr]")
    rate.fill("0.0003")
    rate.press("Enter")
    button(page, "Train").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "running", timeout=60_000)
    page.wait_for_function("() => +document.querySelector('.ig-canvas').dataset.step >= 100",
                           timeout=60_000)  # this run's own frames (a new run starts blank)
    button(page, "Stop").click()
    until_not_running(page)
    page.locator('.insight-tab[data-tab="runs"]').click()
    row = page.locator(f'[data-compare-run="{first}"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row.locator("b", has_text="G lr 0.001")).to_be_visible()  # the setting that differs
    g_loss = page.locator('.insight-seg[data-column="g_loss"]')
    g_loss.click()
    expect(g_loss).to_have_attribute("aria-pressed", "true")
    # This run's curve and the first one's (a server used before may hold more of this design).
    page.wait_for_function("() => +document.querySelector('.ic-chart').dataset.series >= 2",
                           timeout=20_000)
    page.screenshot(path=str(artifact("gan-compare.png")))


def test_a_gan_built_from_the_palette_trains_and_exports_its_generator(page, gan_server):
    new_design(page)
    for _ in range(2):  # eight layers in two rows of four fit the canvas at 69%
        page.get_by_role("button", name="Zoom out").click()
    chain = ["Noise", "Linear", "ReLU", "Linear", "Input", "Linear", "LeakyReLU", "Linear"]
    ids = [drag_layer(page, kind, 80 + (i % 4) * 160, 80 + (i // 4) * 150)
           for i, kind in enumerate(chain)]
    # A gan first (its Input takes the generator's edge), then the wires.
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    kind = page.locator(".training-form select[name=kind]")
    if not kind.count():
        pytest.skip("the training form has no `kind` field to choose gan with")
    kind.select_option("gan")
    expect(button(page, "Step D")).to_be_visible()
    port = page.locator(f'[data-node-id="{ids[4]}"] [data-port="in"]')
    if not port.count():
        pytest.skip("the canvas cannot wire a generator into the Input: it draws no `in` port "
                    "on Input in a gan design")
    expect(port).to_be_visible()
    for a, b in zip(ids, ids[1:], strict=False):
        connect(page, a, b)
    set_param(page, ids[1], "out_features", "16")
    set_param(page, ids[3], "out_features", "2")
    set_param(page, ids[5], "out_features", "16")
    set_param(page, ids[7], "out_features", "1")
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    page.locator("select[name=dataset]").select_option("gaussian")
    until_stopped(page)
    train_watch_and_step(page)
    export_generator(page)
