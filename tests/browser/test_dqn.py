"""Deep Q-learning on the page (issue 11; CONTRACTS.md §6, the `dqn` kind): the run card's
environment picker (GET /api/environments), the Environment tab drawing run_environment frames
(CartPole, Acrobot, MountainCar, LunarLander, the grids), the return chart over episodes with
its moving average and solved line, TD loss, mean Q and ε, the live ε and Watch greedy.

Two halves. The first drives the page with frames of the shapes the server sends, handed to the
page's own run client (one environment after another, deterministic). The second trains the
CartPole example for real, about 30 s on a 2-core machine: the cart moves, the return chart
fills, pause and one step show one new transition, Watch greedy and ε go to the run. It skips,
saying why, while the server lists no `dqn` kind or cannot run CartPole.
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
    run_state,
    set_param,
    shape_text,
    until_not_running,
    wait_points,
    wait_valid,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

RUN = "dqn00001"

# In the page: run_environment frames of the shapes the server sends, `k` steps into an episode.
FAKE_ENV = r"""
window.fakeEnv = (env, step, k, extra = {}) => {
  const wave = Math.sin(k / 3);
  const states = {
    cartpole: [0.8 * wave, 0.3, 0.12 * Math.cos(k / 2), -0.4],
    acrobot: [Math.cos(0.4 * k), Math.sin(0.4 * k), Math.cos(1 + 0.2 * k), Math.sin(1 + 0.2 * k),
      0.5, -0.3],
    mountain_car: [-0.5 + 0.6 * wave, 0.02 * Math.cos(k / 3)],
    lunar_lander: [0.3 * wave, 1.2 - 0.08 * k, 0.1, -0.3, 0.25 * wave, 0.1, k > 12 ? 1 : 0, 0],
    frozen_lake: [[0, 4, 8, 9, 13, 14][k % 6]],
    cliff_walking: [[36, 24, 25, 26, 27, 28][k % 6]],
  };
  const actions = { cartpole: 2, acrobot: 3, mountain_car: 3, lunar_lander: 4, frozen_lake: 4,
    cliff_walking: 4 }[env];
  const cells = { frozen_lake: 16, cliff_walking: 48 }[env];
  const lake = env === 'frozen_lake';
  const frame = { run_id: 'dqn00001', step, episode: 3, t: k, state: states[env],
    action: k ? k % actions : null, reward: k ? (env === 'cartpole' ? 1 : -1) : null,
    episode_return: env === 'cartpole' ? k : -k, last_return: 21, greedy: false, done: false, env,
    q: Array.from({ length: actions }, (_, a) => 10 + a * 0.5 * Math.cos(k + a)), ...extra };
  if (cells) {
    frame.values = Array.from({ length: cells }, (_, i) => (lake ? i / 15 : -13 + i / 4));
    frame.policy = Array.from({ length: cells }, (_, i) => (lake ? [1, 2][i % 2] : 1));
  }
  return frame;
};
"""


def served(base_url: str, path: str):
    try:
        with urllib.request.urlopen(base_url + path, timeout=10) as res:
            return json.load(res)
    except (urllib.error.URLError, ValueError, OSError):
        return None


def open_example(page, name: str) -> None:
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name=name).click()
    wait_valid(page)


def training_form(page) -> None:
    """Show the training settings (no layer selected)."""
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    expect(page.locator(".training-form")).to_be_visible()


@pytest.fixture
def dqn_server(base_url):
    """Skip unless the server under test serves the dqn kind and its environments."""
    kinds = [k.get("name") for k in (served(base_url, "/api/training") or {}).get("kinds", [])]
    envs = served(base_url, "/api/environments")
    if "dqn" not in kinds or not envs:
        pytest.skip("the server does not serve the dqn kind (GET /api/training) and "
                    "GET /api/environments yet: the server side of issue 11 has not landed")
    return {e["name"]: e for e in envs}


def fake_run(page, doc: dict) -> None:
    """Make the page show run dqn00001 of `doc`, owned by it; the control, set_hparams and
    greedy requests it sends are recorded in window.sent and answered ok."""
    page.route(f"**/api/runs/{RUN}", lambda route: route.fulfill(json={
        "run_id": RUN, "status": {"state": "running"}, "history": [], "design_key": None}))
    page.evaluate(FAKE_ENV)
    page.evaluate("""(doc) => {
      const app = window.layerlab;
      window.sent = [];
      const request = app.conn.request.bind(app.conn);
      app.conn.request = (event, payload, timeout) => {
        if (payload?.run_id !== 'dqn00001') return request(event, payload, timeout);
        if (['control', 'set_hparams', 'greedy'].includes(event)) {
          window.sent.push({ event, ...payload });
        }
        const state = payload.action === 'resume' ? 'running' : 'paused';
        if (event === 'control') return Promise.resolve({ ok: true, state });
        if (event === 'greedy') return Promise.resolve({ ok: true, greedy: payload.on });
        if (event === 'timeline') return Promise.resolve({ ok: true, checkpoints: [] });
        return Promise.resolve({ ok: true });
      };
      app.runClient.adopt('dqn00001', 'token', doc);
      app.charts.reset([]);
      app.runClient.route('status',
        { run_id: 'dqn00001', state: 'running', step: 0, device: 'cpu' });
    }""", doc)


def push_frames(page, env: str, first_step: int, count: int, **extra) -> None:
    """Hand the page `count` frames of one episode of `env` and wait until it has drawn them
    (the Environment tab is shown: the first frame of a run opens it)."""
    drawn = page.evaluate("""([env, first, count, extra]) => {
      const rc = window.layerlab.runClient;
      const drawn = +(document.querySelector('.ie-canvas').dataset.drawn || 0);
      for (let k = 0; k < count; k += 1) {
        rc.route('environment', window.fakeEnv(env, first + k, k, extra));
      }
      rc.route('status', { run_id: 'dqn00001', step: first + count - 1 });
      return drawn;
    }""", [env, first_step, count, extra])
    page.wait_for_function("n => +document.querySelector('.ie-canvas').dataset.drawn > n",
                           arg=drawn, timeout=10_000)


def push_episodes(page, count: int) -> None:
    """Metric points of `count` finished episodes (and the points between them)."""
    page.evaluate("""(count) => {
      const points = [];
      for (let e = 1; e <= count; e += 1) {
        const step = e * 40;
        points.push({ step: step - 20, epoch: e - 1, time: e / 10, lr: 5e-4, epsilon: 1 - e / 100,
          td_loss: 0.5 / e, q_mean: e / 4 });
        points.push({ step, epoch: e, time: e / 10 + 0.05, lr: 5e-4, epsilon: 1 - e / 100,
          episode: e, episode_return: 10 + 4 * e + 8 * Math.sin(e) });
      }
      window.layerlab.runClient.route('metrics', { run_id: 'dqn00001', points });
    }""", count)


def pixels(page) -> str:
    return page.locator(".ie-canvas").evaluate("c => c.toDataURL()")


def canvas_attr(page, name: str) -> str | None:
    return page.locator(".ie-canvas").get_attribute(f"data-{name}")


def test_a_dqn_design_picks_its_environment_from_the_catalog(page, dqn_server):
    # One environment this server cannot run, as a server without Box2D lists LunarLander.
    catalog = [dict(e) for e in dqn_server.values()]
    gone = next((i for i, e in enumerate(catalog) if e["name"] == "lunar_lander"), len(catalog) - 1)
    catalog[gone] = {**catalog[gone], "available": False,
                     "unavailable_reason": "needs Box2D, which this server lacks"}
    page.route("**/api/environments", lambda route: route.fulfill(json=catalog))
    page.reload()
    page.wait_for_selector("body:not(.is-loading)")
    open_example(page, "CartPole DQN")
    picker = page.locator("select[name=environment]")
    expect(picker).to_be_visible()
    expect(picker).to_have_value("cartpole")
    expect(page.locator("select[name=dataset]")).to_be_hidden()
    expect(page.locator(".run-card .dataset-row .ui-label")).to_have_text("Environment")
    options = picker.locator("option:not([value=''])")
    assert options.evaluate_all("os => os.map(o => o.value)") == [e["name"] for e in catalog]
    off = picker.locator(f'option[value="{catalog[gone]["name"]}"]')
    expect(off).to_be_disabled()
    expect(off).to_have_attribute("title", "needs Box2D, which this server lacks")
    expect(page.locator(".preview-caption")).to_have_text("[4] → 2 actions · solved at 475")
    # The kind's charts, from its catalog entry: the return over episodes, its goal the
    # environment's solved_return; ε is charted, so only lr changes are marked.
    charts = page.eval_on_selector_all("[data-chart]:not([hidden])",
                                       "els => els.map(e => e.dataset.chart)")
    assert charts == ["return", "td_loss", "q", "epsilon"]
    ret = page.locator('[data-chart="return"]')
    expect(ret).to_have_attribute("data-x", "episode")
    expect(ret).to_have_attribute("data-goal", "475")
    expect(page.locator(".dock-legend")).to_have_text("lr change")
    # The run card: the live ε on a linear slider, Watch greedy (no run yet).
    expect(page.locator(".lr-row[data-hparam=epsilon] label")).to_have_text("Exploration ε")
    expect(page.locator("input[name=epsilon]")).to_have_value("1")
    expect(page.locator("input[name=epsilon_slider]")).to_have_attribute(
        "aria-label", "Exploration ε (linear scale)")
    expect(button(page, "Watch greedy")).to_be_visible()
    expect(button(page, "Watch greedy")).to_be_disabled()
    # FrozenLake: the Input follows its one-hot cells; the server names the sink that still
    # outputs CartPole's two Q-values; its `slippery` param and doc show in the form.
    picker.select_option("frozen_lake")
    expect(page.locator('[data-node-id="obs"] .node-shape')).to_have_text("[16]")
    expect(page.locator('[data-node-id="q"]')).to_have_attribute("data-error",
                                                               re.compile("4 actions"))
    expect(ret).to_have_attribute("data-goal", "0.7")
    training_form(page)
    form = page.locator(".training-form")
    expect(form.get_by_text("Environment · FrozenLake 4x4")).to_be_visible()
    expect(form.get_by_text(dqn_server["frozen_lake"]["doc"])).to_be_visible()
    expect(form.locator("[name=environment]")).to_have_count(0)  # the run card picks it
    slippery = form.locator('[name="environment.slippery"]')
    expect(slippery).not_to_be_checked()
    slippery.check()
    page.wait_for_function("() => window.layerlab.store.doc.training.environment.slippery === true")
    set_param(page, "q", "out_features", "4")
    wait_valid(page)
    # An Input of the wrong shape: the server's message on the node, as for datasets.
    set_param(page, "obs", "shape", "5")
    expect(page.locator('[data-node-id="obs"]')).to_have_attribute(
        "data-error", re.compile("does not match the frozen_lake environment"))
    set_param(page, "obs", "shape", "16")
    wait_valid(page)
    assert shape_text(page, "obs") == "[16]"
    # The Environment tab shows the lake at rest before any run.
    page.get_by_role("button", name="Insight", exact=True).click()
    page.locator('.insight-tab[data-tab="environment"]').click()
    expect(page.locator(".ie-canvas")).to_have_attribute("data-view", "grid")
    expect(page.locator(".ie-canvas")).to_have_attribute("data-env", "frozen_lake")
    page.screenshot(path=str(artifact("dqn-picker-frozen-lake.png")))


def test_a_dqn_run_draws_each_environment_and_sends_its_controls(page, dqn_server):
    open_example(page, "CartPole DQN")
    doc = page.evaluate("window.layerlab.store.doc")
    fake_run(page, doc)
    push_frames(page, "cartpole", 100, 1)
    expect(page.locator("#insight-environment")).to_be_visible()  # opened by the first frame
    expect(page.locator('.insight-tab[data-tab="boundary"]')).to_be_hidden()
    first = pixels(page)
    push_frames(page, "cartpole", 101, 12)
    expect(page.locator(".ie-canvas")).to_have_attribute("data-step", "112")
    assert canvas_attr(page, "frames") == "13" and canvas_attr(page, "view") == "cartpole"
    assert pixels(page) != first, "the cart did not move on the canvas"
    expect(page.locator(".ie-readout")).to_have_text(
        "Episode 3 · t 11 · push right → +1 · return 11")
    expect(page.locator(".ie-state")).to_contain_text("cart position")
    expect(page.locator(".ie-q-row")).to_have_count(2)
    expect(page.locator(".ie-q-row[data-best]")).to_have_count(1)
    expect(page.locator(".ie-mode")).to_have_text("Training episode")
    # The return chart: one point per episode, its mean, the solved line named.
    push_episodes(page, 40)
    wait_points(page, 40, "return")
    wait_points(page, 40, "td_loss")
    expect(page.locator('[data-chart="return"] .chart-latest')).to_contain_text("mean")
    expect(page.locator('[data-chart="epsilon"] .chart-latest')).to_have_text(re.compile(r"^0\.6"))
    page.screenshot(path=str(artifact("dqn-fake-cartpole.png")))
    page.locator(".dock").screenshot(path=str(artifact("dqn-fake-charts.png")))
    # Watch greedy: the `greedy` event; its frames say so.
    greedy = button(page, "Watch greedy")
    expect(greedy).to_be_enabled()
    greedy.click()
    expect(greedy).to_have_attribute("aria-pressed", "true")
    push_frames(page, "cartpole", 200, 3, greedy=True)
    expect(page.locator(".ie-mode")).to_have_text("Greedy policy")
    expect(page.locator(".ie-canvas")).to_have_attribute("data-greedy", "true")
    # ε mid-run goes to the run, not into the design (whose schedule still starts at 1).
    eps = page.locator("input[name=epsilon]")
    eps.fill("0.2")
    eps.press("Enter")
    page.wait_for_function("() => window.sent.some(s => s.event === 'set_hparams')")
    greedy.click()
    expect(greedy).to_have_attribute("aria-pressed", "false")
    sent = page.evaluate("window.sent")
    assert [(s["on"]) for s in sent if s["event"] == "greedy"] == [True, False]
    assert [s["epsilon"] for s in sent if s["event"] == "set_hparams"] == [0.2]
    assert page.evaluate("window.layerlab.store.doc.training.dqn.epsilon_start") == 1.0
    # Paused: Step is one environment step.
    page.evaluate(f"window.layerlab.runClient.route('status', "
                  f"{{run_id: '{RUN}', state: 'paused'}})")
    button(page, "Step").click()
    page.wait_for_function("() => window.sent.some(s => s.action === 'step')")
    sent = page.evaluate("window.sent")
    assert [s.get("steps") for s in sent if s.get("action") == "step"] == [1]
    # Every other view, drawn from the frames' own `env`.
    for k, (env, view) in enumerate([("acrobot", "acrobot"), ("mountain_car", "mountain_car"),
                                     ("lunar_lander", "lunar_lander"), ("frozen_lake", "grid"),
                                     ("cliff_walking", "grid")]):
        before = pixels(page)
        push_frames(page, env, 1000 * (k + 1), 14)
        expect(page.locator(".ie-canvas")).to_have_attribute("data-view", view)
        expect(page.locator(".ie-canvas")).to_have_attribute("data-env", env)
        expect(page.locator(".ie-q-row")).to_have_count(dqn_server[env]["actions"])
        assert pixels(page) != before, f"{env} was not drawn"
        page.locator(".insight").screenshot(path=str(artifact(f"dqn-fake-{env}.png")))
    expect(page.locator(".ie-legend")).to_contain_text("Value of each cell")
    expect(page.locator(".ie-state")).to_have_text("cell 24: row 3, column 1")
    # The dark theme: the same pictures in its colours.
    page.locator("[data-action=theme]").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    push_frames(page, "frozen_lake", 9000, 4)
    page.screenshot(path=str(artifact("dqn-fake-dark.png")))


# -- a real run ---------------------------------------------------------------------------------

def frame_step(page) -> int:
    return int(canvas_attr(page, "step") or -1)


def test_cartpole_trains_pauses_steps_and_watches_greedy(page, dqn_server):
    if not dqn_server["cartpole"]["available"]:
        pytest.skip("this server cannot run CartPole: "
                    f"{dqn_server['cartpole']['unavailable_reason']}")
    open_example(page, "CartPole DQN")
    training_form(page)
    steps = page.locator(".training-form [name=steps]")
    steps.fill("20000")  # ended by Stop well before; a bound in case the test fails midway
    steps.press("Enter")
    wait_valid(page)
    button(page, "Train").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "running", timeout=60_000)
    canvas = page.locator(".ie-canvas")
    expect(page.locator("#insight-environment")).to_be_visible(timeout=30_000)
    page.wait_for_function("() => +document.querySelector('.ie-canvas').dataset.frames >= 3",
                           timeout=30_000)
    first_step, first = frame_step(page), pixels(page)
    page.wait_for_function("s => +document.querySelector('.ie-canvas').dataset.step > s + 30",
                           arg=first_step, timeout=30_000)
    page.wait_for_function("n => +document.querySelector('.ie-canvas').dataset.drawn > n",
                           arg=int(canvas_attr(page, "drawn")), timeout=10_000)
    assert pixels(page) != first, "the cart did not move"
    wait_points(page, 3, "return", timeout=30_000)
    expect(page.locator(".ie-q-row")).to_have_count(2)
    page.screenshot(path=str(artifact("dqn-cartpole-live.png")))
    # Paused at a step; one Step is one new transition.
    button(page, "Pause").click()
    expect(run_state(page)).to_have_attribute("data-run-state", "paused")
    page.wait_for_function(
        "() => +document.querySelector('.ie-canvas').dataset.step"
        " === window.layerlab.runClient.status.step",
        timeout=15_000)
    before = {k: int(canvas_attr(page, k)) for k in ("step", "t", "episode")}
    button(page, "Step").click()
    page.wait_for_function("s => +document.querySelector('.ie-canvas').dataset.step > s",
                           arg=before["step"], timeout=15_000)
    after = {k: int(canvas_attr(page, k)) for k in ("step", "t", "episode")}
    assert after["step"] == before["step"] + 1, (before, after)
    assert (after["t"], after["episode"]) in ((before["t"] + 1, before["episode"]),
                                              (0, before["episode"] + 1)), (before, after)
    if after["t"]:  # the transition's action (none right after a reset: the episode ended)
        assert canvas_attr(page, "action") in ("0", "1")
    expect(run_state(page)).to_have_attribute("data-run-state", "paused")
    # Watch greedy: acknowledged on; once resumed the frames come from the greedy player.
    greedy = button(page, "Watch greedy")
    greedy.click()
    expect(greedy).to_have_attribute("aria-pressed", "true")
    button(page, "Resume").click()
    expect(canvas).to_have_attribute("data-greedy", "true", timeout=15_000)
    expect(page.locator(".ie-mode")).to_have_text("Greedy policy")
    # ε from now on: the run's next points carry it.
    eps = page.locator("input[name=epsilon]")
    eps.fill("0.2")
    eps.press("Enter")
    page.wait_for_function("() => window.layerlab.charts.table.last('epsilon') === 0.2",
                           timeout=15_000)
    page.screenshot(path=str(artifact("dqn-cartpole-greedy.png")))
    button(page, "Stop").click()
    assert until_not_running(page) == "stopped"
    expect(greedy).to_be_disabled()
