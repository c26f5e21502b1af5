"""Canvas gestures: rubber band, shift-click, move, pan, wheel zoom, fit, tidy, edge delete."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifact
from tests.browser.helpers import canvas_box, connect, drag_layer, new_design

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def ui(page, node_id: str) -> dict:
    return page.evaluate(
        "id => window.layerlab.store.doc.nodes.find(n => n.id === id).ui", node_id)


def test_select_move_pan_zoom_fit_tidy(page):
    new_design(page)
    a = drag_layer(page, "Input", 120, 110)
    b = drag_layer(page, "Linear", 380, 110)
    c = drag_layer(page, "ReLU", 380, 300)
    connect(page, a, b)
    connect(page, b, c)
    box = canvas_box(page)
    # Rubber band (Shift + drag on the background) around the two right-hand nodes.
    page.keyboard.down("Shift")
    page.mouse.move(box["x"] + 250, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 520, box["y"] + 400, steps=6)
    page.mouse.up()
    page.keyboard.up("Shift")
    expect(page.locator(".node.is-selected")).to_have_count(2)
    # Shift-click toggles one out.
    page.locator(f'[data-node-id="{c}"] .node-type').click(modifiers=["Shift"])
    expect(page.locator(".node.is-selected")).to_have_count(1)
    # Move a node by its title.
    before = ui(page, b)
    head = page.locator(f'[data-node-id="{b}"] .node-type').bounding_box()
    page.mouse.move(head["x"] + 5, head["y"] + 5)
    page.mouse.down()
    page.mouse.move(head["x"] + 65, head["y"] + 45, steps=5)
    page.mouse.up()
    after = ui(page, b)
    assert after["x"] > before["x"] + 40 and after["y"] > before["y"] + 20
    page.keyboard.press("Control+z")
    assert ui(page, b) == before
    # Pan by dragging the background, zoom with the wheel.
    transform = page.eval_on_selector(".world", "el => el.style.transform")
    page.mouse.move(box["x"] + 600, box["y"] + 380)
    page.mouse.down()
    page.mouse.move(box["x"] + 560, box["y"] + 330, steps=4)
    page.mouse.up()
    assert page.eval_on_selector(".world", "el => el.style.transform") != transform
    zoom = page.locator(".zoom-level").inner_text()
    page.mouse.wheel(0, -400)
    expect(page.locator(".zoom-level")).not_to_have_text(zoom)
    page.get_by_role("button", name="Fit", exact=True).click()
    page.get_by_role("button", name="Tidy", exact=True).click()
    assert ui(page, a)["x"] < ui(page, b)["x"] < ui(page, c)["x"]
    page.screenshot(path=str(artifact("canvas-tidy.png")))


def test_edges_can_be_selected_and_deleted(page):
    new_design(page)
    a = drag_layer(page, "Input", 120, 120)
    b = drag_layer(page, "Linear", 420, 120)
    connect(page, a, b)
    page.locator(".canvas").click(position={"x": 600, "y": 380})  # clear the selection
    label = page.locator(f'.edge-label[data-edge="{a}->{b}"]').bounding_box()
    page.mouse.click(label["x"] - 14, label["y"] + label["height"] / 2)  # on the curve
    expect(page.locator(".edge.is-selected")).to_have_count(1)
    page.keyboard.press("Delete")
    expect(page.locator(f'[data-edge="{a}->{b}"]')).to_have_count(0)
    expect(page.locator("[data-node-id]")).to_have_count(2)


def test_a_wire_dropped_on_empty_canvas_adds_the_next_layer(page):
    new_design(page)
    a = drag_layer(page, "Input", 120, 120)
    port = page.locator(f'[data-node-id="{a}"] [data-port="out"]').bounding_box()
    box = canvas_box(page)
    page.mouse.move(port["x"] + 8, port["y"] + 8)
    page.mouse.down()
    page.mouse.move(box["x"] + 480, box["y"] + 160, steps=6)
    page.mouse.up()
    expect(page.locator("input[name=layer_search]")).to_be_focused()
    page.keyboard.type("linear")
    page.keyboard.press("Enter")
    expect(page.locator("[data-node-id]")).to_have_count(2)
    expect(page.locator(f'.edge-label[data-edge^="{a}->"]')).to_have_count(1)
