"""Talk mode (issue 6): presenter mode, demo keys, slow motion, the audience link and its QR code,
offline use, and share links that carry a finished run."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LOOPBACK, PageLog, artifact, wait_ready, watch
from tests.browser.helpers import (
    button,
    points,
    run_state,
    set_epochs,
    until_not_running,
    wait_points,
    wait_valid,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
DOCS = Path(__file__).resolve().parents[2] / "docs"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}


def font_px(page, selector: str) -> float:
    return page.eval_on_selector(selector, "el => parseFloat(getComputedStyle(el).fontSize)")


def stroke_px(page, selector: str) -> float:
    return page.eval_on_selector(selector, "el => parseFloat(getComputedStyle(el).strokeWidth)")


def step_count(page) -> int:
    """The step the progress line shows ("Epoch 3 · step 1,234 · ...")."""
    m = re.search(r"step ([\d,]+)", page.locator(".progress-text").inner_text())
    return int(m.group(1).replace(",", "")) if m else 0


def run_id(page) -> str | None:
    return page.evaluate("window.layerlab.runClient.runId")


def endless(page) -> None:
    """The current design trains until stopped; the focus leaves the form (keys reach the page)."""
    page.keyboard.press("Escape")
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    page.fill(".training-form [name=epochs]", "")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")  # blurs the field
    expect(page.locator(".training-form [name=epochs]")).to_have_value("")
    wait_valid(page)


def start_slow_run(page) -> str:
    """An endless run at 100 steps/s (one ArrowLeft), started with Space: one that lasts while
    people join. Its run id."""
    endless(page)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Space")
    expect(run_state(page)).to_have_attribute("data-run-state", "running", timeout=30_000)
    return run_id(page)


def no_speed_error(page) -> None:
    """The server took the speed (a refusal shows as an error toast naming it)."""
    errors = page.locator(".toast-error").all_inner_texts()
    assert not any("speed" in e for e in errors), f"the server refused the speed: {errors}"


def decode_qr(page, selector: str) -> str:
    """Read a QR canvas's pixels and decode them with ZXing (pip install zxing-cpp)."""
    zxingcpp = pytest.importorskip("zxingcpp", reason="pip install zxing-cpp to decode QR codes")
    np = pytest.importorskip("numpy")
    pixels = page.eval_on_selector(selector, """c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const g = new Array(c.width * c.height);
        for (let i = 0; i < g.length; i += 1) g[i] = d[i * 4];
        return {w: c.width, h: c.height, g};
    }""")
    image = np.array(pixels["g"], dtype=np.uint8).reshape(pixels["h"], pixels["w"])
    found = zxingcpp.read_barcodes(image)
    assert found, f"no QR code found in {selector}"
    return found[0].text


def new_watcher(browser, url: str, **options):
    """A second person: their own browser context opened on a link."""
    ctx = browser.new_context(**options)
    ctx.set_default_timeout(15_000)
    log = PageLog()
    page = watch(ctx.new_page(), log)
    page.goto(url)
    page.wait_for_selector("body:not(.is-loading)")
    return ctx, page, log


def test_presenter_mode_hides_what_the_url_says_and_scales_text(page, base_url):
    page.goto(base_url + "/?hide=charts,palette")
    wait_ready(page)
    expect(page.locator(".dock")).to_be_hidden()
    expect(page.locator(".palette")).to_be_hidden()
    expect(page.locator(".canvas")).to_be_visible()
    expect(page.locator(".training-form")).to_be_visible()
    canvas_width = page.locator(".canvas").bounding_box()["width"]
    assert canvas_width > 1280 - 344 - 20, canvas_width  # the palette's column went with it

    page.goto(base_url + "/#hide=inspector,status")
    wait_ready(page)
    expect(page.locator(".training-form")).to_be_hidden()
    expect(page.locator(".statusbar")).to_be_hidden()
    expect(page.locator(".palette")).to_be_visible()
    expect(page.locator('[data-chart="loss"]')).to_be_visible()

    page.goto(base_url + "/?hide=charts")
    wait_ready(page)
    before = {s: font_px(page, s) for s in (".node-type", ".progress-text", ".design-name")}
    edge_before = stroke_px(page, "path.edge")
    page.keyboard.press("p")
    expect(page.locator("body")).to_have_class(re.compile(r"\bpresenting\b"))
    for panel in (".palette", ".training-form", ".statusbar", ".canvas-tools", "[data-action=new]"):
        expect(page.locator(panel)).to_be_hidden()
    expect(page.locator(".dock")).to_be_hidden()  # the URL's choice still holds
    expect(page.locator(".run-card")).to_be_visible()
    expect(button(page, "Exit")).to_be_visible()
    after = {s: font_px(page, s) for s in before}
    for selector, size in before.items():
        assert after[selector] >= size * 1.2, (selector, size, after[selector])
    assert after[".node-type"] >= 19 and after[".progress-text"] >= 18
    edge_after = stroke_px(page, "path.edge")
    assert edge_after >= 1.5 * edge_before, (edge_before, edge_after)
    # Full screen is asked for; a browser that refuses it leaves presenter mode working.
    page.wait_for_timeout(300)
    full = page.evaluate("Boolean(document.fullscreenElement)")
    refused = page.locator(".toast", has_text="full screen").count() > 0
    assert full or refused
    page.keyboard.press("p")
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bpresenting\b"))
    expect(page.locator(".palette")).to_be_visible()
    assert font_px(page, ".node-type") == before[".node-type"]


def test_keyboard_drives_a_demo(page):
    names = page.evaluate("window.layerlab.examples.map(e => e.name)")
    assert len(names) >= 3
    page.locator(".canvas").focus()
    page.keyboard.press("3")
    expect(page.locator("input[name=design_name]")).to_have_value(names[2])
    page.keyboard.press(str(names.index("Spiral MLP") + 1))
    expect(page.locator("input[name=design_name]")).to_have_value("Spiral MLP")
    endless(page)

    # Keys stay out of the way while someone types.
    search = page.locator("input[name=layer_search]")
    search.click()
    page.keyboard.type("s r")
    expect(search).to_have_value("s r")
    expect(run_state(page)).to_have_attribute("data-run-state", "idle")
    search.fill("")
    page.keyboard.press("Escape")

    page.keyboard.press("Space")
    expect(run_state(page)).to_have_attribute("data-run-state", "running", timeout=30_000)
    wait_points(page, 1)
    page.keyboard.press("Space")
    expect(run_state(page)).to_have_attribute("data-run-state", "paused")
    page.wait_for_timeout(400)
    paused_at = step_count(page)
    page.keyboard.press("s")
    page.wait_for_function(
        "n => /step ([\\d,]+)/.test(document.querySelector('.progress-text').textContent)"
        " && +RegExp.$1.replace(/,/g, '') === n", arg=paused_at + 1, timeout=10_000)
    page.wait_for_timeout(500)
    assert step_count(page) == paused_at + 1
    expect(run_state(page)).to_have_attribute("data-run-state", "paused")
    page.keyboard.press("Space")
    expect(run_state(page)).to_have_attribute("data-run-state", "running")

    first = run_id(page)
    page.keyboard.press("r")
    page.wait_for_function("id => (window.layerlab.runClient.runId || id) !== id", arg=first)
    expect(run_state(page)).to_have_attribute("data-run-state", "running", timeout=30_000)

    # Slow motion: five stops down from full speed is 2 steps a second, and the run obeys.
    speed = page.locator(".speed-value")
    expect(speed).to_have_attribute("data-speed", "full")
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    expect(speed).to_have_attribute("data-speed", "2")
    expect(speed).to_have_text("2 steps/s")
    page.wait_for_timeout(1200)  # the setting reaches the worker; earlier steps drain
    no_speed_error(page)
    s0, t0 = step_count(page), time.monotonic()
    page.wait_for_timeout(2500)
    s1, t1 = step_count(page), time.monotonic()
    rate = (s1 - s0) / (t1 - t0)
    assert 0.8 <= rate <= 3.2, f"{s1 - s0} steps in {t1 - t0:.1f} s at 2 steps/s"
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    expect(speed).to_have_attribute("data-speed", "full")
    page.wait_for_timeout(1000)
    s0, t0 = step_count(page), time.monotonic()
    page.wait_for_timeout(1500)
    fast = (step_count(page) - s0) / (time.monotonic() - t0)
    assert fast > 20, f"full speed is only {fast:.1f} steps/s"
    no_speed_error(page)
    page.keyboard.press("Control+.")
    until_not_running(page)

    # The help overlay lists the talk keys.
    page.keyboard.press("?")
    talk = page.locator(".help-group", has_text="Talk")
    for label in ("Presenter mode", "pause / resume", "One training step", "Reset the weights",
                  "Slower", "Faster", "starter design", "Audience link"):
        expect(talk).to_contain_text(label)


def test_audience_link_qr_code_and_live_view(page, browser, base_url):
    rid = start_slow_run(page)
    link = f"{base_url}/run/{rid}"

    page.keyboard.press("a")
    card = page.locator(".audience-overlay")
    expect(card).to_be_visible()
    expect(card.locator(".audience-path")).to_have_text(f"/run/{rid}")
    expect(card.locator(".qr-canvas")).to_have_attribute("data-qr", link)
    expect(card.locator(".audience-warning")).to_be_visible()  # 127.0.0.1 is not for phones
    page.screenshot(path=str(artifact("talk-audience-card.png")))
    page.keyboard.press("Escape")
    expect(card).to_be_hidden()
    page.keyboard.press("p")
    expect(page.locator(".talk-join")).to_be_visible()

    ctx, phone, log = new_watcher(browser, link, **PHONE)
    try:
        expect(phone.locator("[data-run-state]")).to_have_attribute("data-run-state", "running")
        seen = wait_points(phone, 2)
        wait_points(phone, seen + 3)  # live: the charts keep growing
        for name in ("Train", "Pause", "Resume", "Step", "Stop", "New", "Save"):
            expect(phone.get_by_role("button", name=name, exact=True)).to_have_count(0)
        expect(phone.locator("[data-layer-type]")).to_have_count(0)
        expect(phone.locator(".palette")).to_be_hidden()
        expect(phone.locator("input[name=speed]")).to_be_hidden()
        expect(phone.locator("input[name=lr]")).to_be_hidden()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the phone page scrolls sideways ({width}px)"
        # The speaker sees one person watching.
        expect(page.locator(".talk-bar [data-watchers]")).to_have_attribute("data-watchers", "1")
        assert not log.errors, log.errors
        assert not log.foreign, log.foreign
    finally:
        ctx.close()
    expect(page.locator(".talk-bar [data-watchers]")).to_have_attribute("data-watchers", "0")

    # The QR codes (the card's and the presenter's join chip) decode to the link.
    assert decode_qr(page, ".talk-join .qr-canvas") == link
    page.keyboard.press("a")
    assert decode_qr(page, ".audience-overlay .qr-canvas") == link
    page.keyboard.press("Escape")
    page.keyboard.press("Control+.")
    until_not_running(page)


def test_the_audience_link_follows_the_speaker_to_each_new_run(page, browser, base_url):
    """R, and Train on another design after a run ended, start new runs: /run/<first> follows."""
    first = start_slow_run(page)
    speaker_count = page.locator(".run-meta [data-watchers]")
    ctx, phone, log = new_watcher(browser, f"{base_url}/run/{first}", **PHONE)
    late_ctx = None
    try:
        expect(phone.locator("[data-run-state]")).to_have_attribute("data-run-state", "running")
        wait_points(phone, 2)
        expect(speaker_count).to_have_attribute("data-watchers", "1")

        page.keyboard.press("r")  # fresh weights: a new run id
        page.wait_for_function("id => (window.layerlab.runClient.runId || id) !== id", arg=first)
        second = run_id(page)
        phone.wait_for_url(f"**/run/{second}")
        expect(phone.locator(".toast", has_text="The speaker started a new run")).to_be_visible()
        assert phone.evaluate("window.layerlab.runClient.runId") == second
        expect(phone.locator("[data-run-state]")).to_have_attribute("data-run-state", "running")
        seen = wait_points(phone, 2)
        wait_points(phone, seen + 3)  # the new run's points, live
        expect(speaker_count).to_have_attribute("data-watchers", "1")  # the count came along
        phone.wait_for_timeout(300)
        for shot in (artifact("audience-follow.png"), Path("/tmp/audience-follow.png")):
            phone.screenshot(path=str(shot))

        page.keyboard.press("Control+.")  # the run ends; then another design trains
        until_not_running(page)
        names = page.evaluate("window.layerlab.examples.map(e => e.name)")
        page.keyboard.press(str(names.index("Residual MLP") + 1))
        expect(page.locator("input[name=design_name]")).to_have_value("Residual MLP")
        page.keyboard.press("Space")
        page.wait_for_function("id => (window.layerlab.runClient.runId || id) !== id",
                               arg=second)
        third = run_id(page)
        phone.wait_for_url(f"**/run/{third}")
        expect(phone.locator("input[name=design_name]")).to_have_value("Residual MLP")
        expect(phone.locator("[data-node-id]")).to_have_count(9)
        expect(phone).to_have_title(re.compile(f"^Run {re.escape(third)} "))

        # Someone who opens the first link late lands on the newest run at once.
        late_ctx, late, late_log = new_watcher(browser, f"{base_url}/run/{first}")
        late.wait_for_url(f"**/run/{third}")
        expect(late.locator("[data-run-state]")).to_have_attribute(
            "data-run-state", re.compile("running|finished"))
        for errors in (log.errors, log.foreign, late_log.errors, late_log.foreign):
            assert not errors, errors
    finally:
        ctx.close()
        if late_ctx:
            late_ctx.close()
    page.keyboard.press("Control+.")
    until_not_running(page)


def test_page_works_with_no_network(browser, base_url):
    """Every request to another host is refused; the app, its fonts and a run still work."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    ctx.set_default_timeout(15_000)
    refused: list[str] = []

    def only_loopback(route):
        host = urlparse(route.request.url).hostname
        if host in LOOPBACK or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    ctx.route("**/*", only_loopback)
    log = PageLog()
    page = watch(ctx.new_page(), log)
    try:
        page.goto(base_url + "/")
        wait_ready(page)
        page.evaluate("document.fonts.ready")
        assert page.evaluate("document.fonts.check('15px Inter')")
        assert page.evaluate("document.fonts.check('14px \"JetBrains Mono\"')")
        loaded = page.evaluate(
            "[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
        assert any("Inter" in f for f in loaded), loaded
        set_epochs(page, "20")
        button(page, "Train").click()
        assert until_not_running(page) == "finished"
        assert points(page) > 0
        page.keyboard.press("a")
        qr = page.locator(".audience-overlay .qr-canvas")
        expect(qr).to_have_attribute("data-qr", re.compile("/run/"))
        page.screenshot(path=str(artifact("talk-offline.png")))
        assert not refused, f"the page asked other hosts: {refused}"
        assert not log.errors, log.errors
    finally:
        ctx.close()


def test_share_link_of_a_finished_run_reopens_its_charts(page, context, browser, base_url):
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    set_epochs(page, "20")
    button(page, "Train").click()
    assert until_not_running(page) == "finished"
    rid = run_id(page)
    n = points(page)
    button(page, "Share").click()
    expect(page.locator(".toast", has_text="trained run")).to_be_visible()
    url = page.evaluate("navigator.clipboard.readText()")
    assert re.search(r"#design=[\w-]+&run=" + re.escape(rid) + "$", url), url

    ctx, other, log = new_watcher(browser, url, viewport={"width": 1280, "height": 720},
                                  accept_downloads=True)
    try:
        wait_ready(other)
        expect(other.locator("[data-run-state]")).to_have_attribute("data-run-state", "finished")
        wait_points(other, n)
        assert points(other) == n
        expect(other.locator("[data-node-id]")).to_have_count(6)
        expect(other.locator("input[name=design_name]")).to_have_value("Spiral MLP")
        with other.expect_response(re.compile(rf"/api/runs/{rid}/model\.onnx$")) as response, \
                other.expect_download() as download:
            button(other, "Export ONNX").click()
        assert response.value.ok
        assert download.value.suggested_filename.endswith(".onnx")
        expect(other.locator(".toast", has_text="ONNX model (trained weights)")).to_be_visible()
        expect(other.locator("[data-action=export-onnx]")).to_have_attribute(
            "data-check", re.compile(r"^ok=true"))
        other.screenshot(path=str(artifact("talk-shared-run.png")))
        assert not log.errors, log.errors
        assert not log.foreign, log.foreign
    finally:
        ctx.close()


def test_screenshots_of_presenter_mode_and_the_audience_phone(page, browser, base_url):
    """docs/presenter.png and docs/audience-phone.png: a slow-motion run, watched from a phone."""
    endless(page)
    page.keyboard.press("p")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # 30 steps/s: the room sees the boundary take shape
    expect(page.locator(".speed-value")).to_have_attribute("data-speed", "30")
    page.keyboard.press("Space")
    expect(run_state(page)).to_have_attribute("data-run-state", "running", timeout=30_000)
    ctx, phone, log = new_watcher(browser, f"{base_url}/run/{run_id(page)}", **PHONE)
    try:
        wait_points(phone, 200, timeout=30_000)  # about 18 epochs: learning, not yet done
        expect(page.locator(".talk-bar [data-watchers]")).to_have_attribute("data-watchers", "1")
        page.wait_for_timeout(1500)
        phone.wait_for_timeout(500)
        for shot in (artifact("presenter.png"), DOCS / "presenter.png"):
            page.screenshot(path=str(shot))
        for shot in (artifact("audience-phone.png"), DOCS / "audience-phone.png"):
            phone.screenshot(path=str(shot))
        phone.screenshot(path=str(artifact("audience-phone-full.png")), full_page=True)
        assert not log.errors, log.errors
    finally:
        ctx.close()
    page.keyboard.press("Control+.")
    until_not_running(page)
