"""Editing: errors on nodes, undo/redo, reload, keyboard, inspector range checks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORT, PageLog, artifact, wait_ready, watch
from tests.browser.helpers import (
    button,
    connect,
    deselect,
    drag_layer,
    new_design,
    node_ids,
    select_node,
    set_param,
    shape_text,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def test_conv2d_after_linear_is_flagged_and_blocks_training(page):
    new_design(page)
    a = drag_layer(page, "Input", 120, 120)
    b = drag_layer(page, "Linear", 360, 120)
    c = drag_layer(page, "Conv2d", 600, 120)
    connect(page, a, b)
    connect(page, b, c)
    conv = page.locator(f'[data-node-id="{c}"]')
    expect(conv).to_have_attribute("data-error", re.compile("Conv2d"))
    assert "Conv2d" in conv.get_attribute("title")
    assert shape_text(page, b) == "[16]"
    train = button(page, "Train")
    expect(train).to_be_disabled()
    assert "Conv2d" in train.get_attribute("title")
    expect(page.locator(".train-hint")).to_be_visible()
    expect(page.locator(".train-hint")).to_contain_text("Conv2d")
    page.screenshot(path=str(artifact("conv-after-linear.png")))
    # The problem in the status strip selects its node.
    page.locator(f'.status-first .problem[data-node="{c}"]').click()
    expect(page.locator('.inspector input[name="node_id"]')).to_have_value(c)
    expect(conv).to_have_class(re.compile("is-selected"))


def test_undo_redo_and_shortcuts(page):
    new_design(page)
    a = drag_layer(page, "Input", 120, 120)
    b = drag_layer(page, "Linear", 360, 120)
    connect(page, a, b)
    page.locator(".canvas").focus()
    page.keyboard.press("Control+z")  # undo the edge
    expect(page.locator(f'[data-edge="{a}->{b}"]')).to_have_count(0)
    page.keyboard.press("Control+z")  # undo the Linear
    expect(page.locator("[data-node-id]")).to_have_count(1)
    page.keyboard.press("Control+Shift+z")
    expect(page.locator("[data-node-id]")).to_have_count(2)
    page.keyboard.press("Control+y")
    expect(page.locator(f'[data-edge="{a}->{b}"]')).to_have_count(2)
    select_node(page, b)
    page.locator(".canvas").focus()
    page.keyboard.press("Control+d")
    expect(page.locator("[data-node-id]")).to_have_count(3)
    page.keyboard.press("Delete")
    expect(page.locator("[data-node-id]")).to_have_count(2)
    select_node(page, b)
    page.locator(".canvas").focus()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(page.locator("[data-node-id]")).to_have_count(3)
    page.keyboard.press("Backspace")
    expect(page.locator("[data-node-id]")).to_have_count(2)
    page.keyboard.press("Control+a")
    expect(page.locator(".node.is-selected")).to_have_count(2)
    page.keyboard.press("?")
    expect(page.locator(".help-overlay")).to_be_visible()
    page.screenshot(path=str(artifact("help-overlay.png")))
    page.keyboard.press("Escape")
    expect(page.locator(".help-overlay")).to_be_hidden()


def test_inspector_checks_ranges_and_renames(page):
    new_design(page)
    a = drag_layer(page, "Input", 120, 120)
    b = drag_layer(page, "Linear", 360, 120)
    connect(page, a, b)
    select_node(page, b)
    field = page.locator('.inspector input[name="out_features"]')
    field.fill("0")
    expect(page.locator(".inspector .field.is-invalid")).to_have_count(1)
    expect(page.locator(".inspector .field.is-invalid .field-msg")).to_contain_text("out_features")
    field.fill("24")
    expect(page.locator('.inspector .field[data-error-kind="local"]')).to_have_count(0)
    # fc1 is the output: the server says spiral's 2 classes need out_features 2, on the field.
    expect(page.locator('.inspector .field[data-error-kind="server"] .field-msg')).to_contain_text(
        "2 classes")
    expect(page.locator(f'[data-node-id="{b}"] .node-shape')).to_have_text("[24]")
    name = page.locator('.inspector input[name="node_id"]')
    name.fill(a)  # taken
    expect(page.locator(".field-id")).to_have_class(re.compile("is-invalid"))
    name.fill("hidden")
    name.press("Enter")
    expect(page.locator('[data-node-id="hidden"]')).to_have_count(1)
    expect(page.locator(f'[data-edge="{a}->hidden"]')).to_have_count(2)


def test_reload_keeps_the_design(page, base_url):
    new_design(page)
    a = drag_layer(page, "Input", 120, 120)
    b = drag_layer(page, "Linear", 360, 120)
    connect(page, a, b)
    page.fill(".design-name", "Kept across reloads")
    page.press(".design-name", "Enter")
    page.wait_for_timeout(300)
    page.reload()
    wait_ready(page)
    assert sorted(node_ids(page)) == sorted([a, b])
    expect(page.locator(f'[data-edge="{a}->{b}"]')).to_have_count(2)
    expect(page.locator(".design-name")).to_have_value("Kept across reloads")


def test_save_gives_a_share_url_that_opens_the_design(page, browser):
    new_design(page)
    drag_layer(page, "Input", 120, 120)
    drag_layer(page, "Linear", 360, 120)
    button(page, "Save").click()
    page.wait_for_function("() => location.hash.startsWith('#design=')")
    fresh = browser.new_context(viewport=VIEWPORT)  # no autosave: only the link carries it
    try:
        log = PageLog()
        other = watch(fresh.new_page(), log)
        other.goto(page.url)
        wait_ready(other)
        assert sorted(node_ids(other)) == sorted(node_ids(page))
        assert not log.errors, log.errors
    finally:
        fresh.close()


def test_dataset_choice_sets_the_input_shape(page):
    new_design(page)
    a = drag_layer(page, "Input", 120, 120)
    b = drag_layer(page, "Flatten", 360, 120)
    connect(page, a, b)
    deselect(page)
    page.select_option("select[name=dataset]", "digits")
    expect(page.locator(f'[data-node-id="{a}"] .node-shape')).to_have_text("[1, 8, 8]")
    expect(page.locator(f'[data-node-id="{b}"] .node-shape')).to_have_text("[64]")


def test_click_to_add_keeps_every_layer_on_screen(page):
    new_design(page)
    ids = []
    for layer in ["Input", "Linear", "ReLU", "Linear", "ReLU", "Linear"]:
        before = set(node_ids(page))
        page.locator(f'[data-layer-type="{layer}"]').click()
        page.wait_for_function("n => document.querySelectorAll('[data-node-id]').length === n",
                               arg=len(before) + 1)
        (new,) = set(node_ids(page)) - before
        ids.append(new)
    c = page.locator(".canvas").bounding_box()
    for node_id in ids:
        box = page.locator(f'[data-node-id="{node_id}"]').bounding_box()
        assert c["x"] <= box["x"] and box["x"] + box["width"] <= c["x"] + c["width"]
        assert c["y"] <= box["y"] and box["y"] + box["height"] <= c["y"] + c["height"]
    for a, b in zip(ids, ids[1:], strict=False):
        connect(page, a, b)
    page.screenshot(path=str(artifact("click-added.png")))
    expect(page.locator(".statusbar")).to_have_attribute("data-status", "error")  # 16 != classes
    set_param(page, ids[-1], "out_features", "2")
    expect(page.locator(".statusbar")).to_have_attribute("data-status", "ok")
