"""Page actions shared by the browser tests: they use only the page hooks of CONTRACTS.md §5."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def button(page: Page, name: str):
    """A button by its exact visible name."""
    return page.get_by_role("button", name=name, exact=True)


def node_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("[data-node-id]", "els => els.map(e => e.dataset.nodeId)")


def canvas_box(page: Page) -> dict:
    return page.locator(".canvas").bounding_box()


def new_design(page: Page) -> None:
    """Press New and wait for the empty canvas."""
    button(page, "New").click()
    expect(page.locator("[data-node-id]")).to_have_count(0)


def drag_layer(page: Page, layer_type: str, x: float, y: float) -> str:
    """Drag a palette item to (x, y) in canvas pixels; returns the new node's id."""
    before = set(node_ids(page))
    item = page.locator(f'[data-layer-type="{layer_type}"]')
    item.scroll_into_view_if_needed()
    box = item.bounding_box()
    canvas = canvas_box(page)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(canvas["x"] + x, canvas["y"] + y, steps=8)
    page.mouse.up()
    page.wait_for_function("n => document.querySelectorAll('[data-node-id]').length === n",
                           arg=len(before) + 1)
    (new,) = set(node_ids(page)) - before
    return new


def connect(page: Page, source: str, target: str) -> None:
    """Drag from source's out port to target's in port and wait for the edge."""
    out = page.locator(f'[data-node-id="{source}"] [data-port="out"]')
    inp = page.locator(f'[data-node-id="{target}"] [data-port="in"]')
    out.drag_to(inp)
    expect(page.locator(f'[data-edge="{source}->{target}"]')).to_have_count(2)  # path + label


def select_node(page: Page, node_id: str) -> None:
    """Click a node's title so the inspector shows it."""
    page.locator(f'[data-node-id="{node_id}"] .node-type').click()
    expect(page.locator('.inspector input[name="node_id"]')).to_have_value(node_id)


def set_param(page: Page, node_id: str, name: str, value: str) -> None:
    """Select a node and type a param value into its inspector field."""
    select_node(page, node_id)
    field = page.locator(f'.inspector [name="{name}"]')
    field.fill(value)
    field.press("Enter")


def deselect(page: Page) -> None:
    """Click empty canvas (the inspector then shows the training settings)."""
    page.keyboard.press("Escape")
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    expect(page.locator(".training-form")).to_be_visible()


def set_epochs(page: Page, epochs: str) -> None:
    """Set the training form's epochs ("" trains until stopped) and wait for the design to check."""
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    page.fill(".training-form [name=epochs]", epochs)
    wait_valid(page)


def wait_valid(page: Page) -> None:
    expect(page.locator(".statusbar")).to_have_attribute("data-status", "ok", timeout=10_000)


def run_state(page: Page):
    return page.locator("[data-run-state]")


def points(page: Page, chart: str = "loss") -> int:
    return int(page.locator(f'[data-chart="{chart}"]').get_attribute("data-points") or 0)


def wait_points(page: Page, at_least: int, chart: str = "loss", timeout: float = 60_000) -> int:
    page.wait_for_function(
        "([c, n]) => +document.querySelector(`[data-chart=\"${c}\"]`).dataset.points >= n",
        arg=[chart, at_least], timeout=timeout)
    return points(page, chart)


def shape_text(page: Page, node_id: str) -> str:
    return page.locator(f'[data-node-id="{node_id}"] .node-shape').inner_text()


def until_not_running(page: Page, timeout: float = 60_000) -> str:
    expect(run_state(page)).to_have_attribute(
        "data-run-state", re.compile("finished|stopped|failed"), timeout=timeout)
    return run_state(page).get_attribute("data-run-state")
