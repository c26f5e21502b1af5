"""The page under hostile and broken data: XSS payloads render as text, a run whose loss went
infinite opens (null metrics, a status message), server refusals show as clear toasts."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageLog, artifact, wait_ready, watch
from tests.browser.helpers import button, points, until_not_running, wait_points
from tests.live import LiveServer, example, make_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
SVG = '"><svg onload=window.__xss=1>'
JS_URL = "javascript:window.__xss=1"
PAYLOADS = [IMG, SCRIPT, SVG, JS_URL]


def hostile_document() -> dict:
    """The spiral example with a payload in every field that takes text."""
    doc = example(epochs=2)
    doc["name"] = IMG
    doc["description"] = f"{SCRIPT} {SVG} {JS_URL}"
    doc[SVG] = SCRIPT  # an unknown top-level key
    doc["nodes"][1]["type"] = IMG  # unknown type: the error echoes it
    doc["nodes"][1]["ui"] = {"x": 10, "y": 10, "label": SCRIPT, "note": SVG}
    for node in doc["nodes"][2:]:
        node["params"] = {**node.get("params", {}), SVG: IMG}
    return doc


def guard(page, dialogs: list) -> None:
    """Record every dialog (an alert from a payload would land here) and dismiss it."""
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))


def assert_clean(page, dialogs: list) -> None:
    assert page.evaluate("() => window.__xss") is None, "a payload ran"
    assert not dialogs, dialogs
    # No payload became markup: no element from it anywhere in the page.
    assert page.locator("img[src=x], svg[onload], script:not([src])").count() == 0


def quote(cell: str) -> str:
    """A CSV cell, quoted."""
    return '"' + cell.replace('"', '""') + '"'


def post_json(page, base_url: str, path: str, body) -> dict:
    """POST JSON as the page would (same origin), returning the parsed answer."""
    response = page.request.post(base_url + path, data=json.dumps(body),
                                 headers={"Content-Type": "application/json",
                                          "Origin": base_url})
    return {"status": response.status, "body": response.json()}


def test_xss_payloads_in_a_document_render_as_text(page, tmp_path):
    dialogs: list = []
    guard(page, dialogs)
    path = tmp_path / "hostile.layerlab.json"
    path.write_text(json.dumps(hostile_document()))
    page.set_input_files("input[name=document_file]", str(path))
    expect(page.locator(".design-name")).to_have_value(IMG)
    bad = page.locator("[data-node-id][data-error]").first
    expect(bad).to_be_attached()
    expect(page.get_by_text(IMG).first).to_be_attached()
    bad.locator(".node-type").click()  # the inspector shows the node and its error
    page.screenshot(path=str(artifact("xss-document.png")))
    assert_clean(page, dialogs)


def test_xss_payloads_through_share_link_csv_columns_and_audience(page, base_url, browser):
    dialogs: list = []
    guard(page, dialogs)
    doc = example(epochs=1)
    doc["name"] = IMG
    doc["description"] = SCRIPT
    saved = post_json(page, base_url, "/api/designs", doc)
    assert saved["status"] == 201, saved
    page.goto(f"{base_url}/#design={saved['body']['id']}")
    page.reload()  # the goto above only changed the hash
    wait_ready(page)
    expect(page.locator(".design-name")).to_have_value(IMG)

    # An upload whose column names are payloads, used as the dataset of the design.
    table = f"a,{quote(SVG)},{quote(IMG)}\n" + "".join(
        f"{i % 7},{i % 3},{i % 2}\n" for i in range(60))
    up = page.request.post(base_url + "/api/uploads", headers={"Origin": base_url},
                           multipart={"file": {"name": f"{SCRIPT}.csv", "mimeType": "text/csv",
                                               "buffer": table.encode()}})
    assert up.status == 201, up.text()
    assert SVG in up.json()["columns"]
    doc["training"]["dataset"] = {"name": "csv", "upload": up.json()["upload_id"],
                                  "target": IMG}
    doc["nodes"][0]["params"]["shape"] = [2]
    path = artifact("xss-csv.layerlab.json")
    path.write_text(json.dumps(doc))
    page.set_input_files("input[name=document_file]", str(path))
    expect(page.locator(".design-name")).to_have_value(IMG)
    button(page, "Train").click()
    assert until_not_running(page) in ("finished", "failed")
    run = page.evaluate("window.layerlab.runClient.runId")
    page.screenshot(path=str(artifact("xss-csv-run.png")))
    assert_clean(page, dialogs)

    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        log = PageLog()
        audience = watch(ctx.new_page(), log)
        guard(audience, dialogs)
        audience.goto(f"{base_url}/run/{run}")
        expect(audience.locator("[data-run-state]")).to_have_attribute(
            "data-run-state", "finished")
        expect(audience.get_by_text(IMG).first).to_be_attached()
        assert IMG in audience.title()
        audience.screenshot(path=str(artifact("xss-audience.png")))
        assert_clean(audience, dialogs)
        assert not log.errors, log.errors
    finally:
        ctx.close()


def infinite_loss_upload(page, base_url: str) -> str:
    """A regression table with one target of 3e19 that the seeded split puts in the validation
    set: training stays finite, the validation loss overflows to infinity on every evaluation."""
    rows = "".join(f"{i / 50:.3f},{(i % 9) / 9:.3f},{3e19 if i == 5 else i % 5:.6g}\n"
                   for i in range(100))
    up = page.request.post(base_url + "/api/uploads", headers={"Origin": base_url},
                           multipart={"file": {"name": "huge.csv", "mimeType": "text/csv",
                                               "buffer": ("x1,x2,y\n" + rows).encode()}})
    assert up.status == 201, up.text()
    return up.json()["upload_id"]


def strict(text: str):
    """Parse JSON as a browser does: NaN or Infinity is an error."""
    def refuse(token):
        raise ValueError(f"non-finite JSON token {token}")
    return json.loads(text, parse_constant=refuse)


def test_a_run_with_an_infinite_loss_opens(page, base_url, context):
    doc = example(epochs=5)
    doc["training"]["dataset"] = {"name": "csv", "upload": infinite_loss_upload(page, base_url),
                                  "target": "y", "task": "regression"}
    doc["training"]["loss"] = "mse"
    doc["nodes"][-1]["params"]["out_features"] = 1
    path = artifact("infinite-loss.layerlab.json")
    path.write_text(json.dumps(doc))
    page.set_input_files("input[name=document_file]", str(path))
    button(page, "Train").click()
    assert until_not_running(page) == "finished"
    run = page.evaluate("window.layerlab.runClient.runId")
    message = page.locator(".run-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("infinite")
    assert points(page) > 0  # the finite training losses are drawn
    expect(page.locator('[data-chart="loss"] .chart-latest')).not_to_contain_text("NaN")
    expect(page.locator('[data-chart="loss"] .chart-latest')).to_contain_text("val —")
    summary = strict(page.request.get(f"{base_url}/api/runs/{run}").text())
    assert summary["status"]["state"] == "finished"
    page.screenshot(path=str(artifact("infinite-loss-editor.png")))

    log = PageLog()
    audience = watch(context.new_page(), log)
    audience.goto(f"{base_url}/run/{run}")
    expect(audience.locator("[data-run-state]")).to_have_attribute("data-run-state", "finished")
    wait_points(audience, points(page))
    expect(audience.locator(".run-message")).to_contain_text("infinite")
    expect(audience.locator('[data-chart="loss"] .chart-latest')).to_contain_text("val —")
    audience.screenshot(path=str(artifact("infinite-loss-audience.png")))
    assert not log.errors, log.errors


def test_null_metrics_from_the_server_draw_gaps_not_errors(page):
    """Points holding null for every metric but a few: the chart draws the finite ones."""
    page.evaluate("""() => {
      const rc = window.layerlab.runClient;
      const pts = [];
      for (let s = 1; s <= 40; s += 1) pts.push({ step: s, epoch: s / 10, time: s,
        train_loss: s % 4 ? 1 / s : null, val_loss: null, train_accuracy: null,
        val_accuracy: s % 2 ? 0.5 : null, lr: null });
      rc.cb.onHistory(pts, { state: 'finished', step: 40, message: 'val_loss is infinite' });
    }""")
    wait_points(page, 1)
    expect(page.locator('[data-chart="loss"] .chart-latest')).not_to_contain_text("NaN")
    page.screenshot(path=str(artifact("null-metrics.png")))


def test_a_busy_server_refusal_is_a_clear_toast(context, tmp_path):
    """A server that queues nothing answers every `train` busy: the toast says so in words."""
    live = LiveServer(make_app(tmp_path, MAX_QUEUED_RUNS=0))
    try:
        log = PageLog()
        page = watch(context.new_page(), log)
        page.goto(live.url + "/")
        wait_ready(page)
        button(page, "Train").click()
        refusal = page.locator(".toast-error", has_text="Could not start training")
        expect(refusal).to_contain_text("busy")
        expect(refusal).not_to_contain_text("internal")
        page.screenshot(path=str(artifact("busy-toast.png")))
        assert not log.errors, log.errors
    finally:
        live.close()
