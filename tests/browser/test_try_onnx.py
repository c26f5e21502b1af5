"""Try the ONNX model: a trained run's exported file runs in the page (vendored onnxruntime-web,
WebAssembly, one thread) and on the server (POST /api/runs/<id>/predict) for the same input,
and the page says whether they agree."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifact
from tests.browser.helpers import button, set_epochs, until_not_running
from tests.browser.own_files import TEXT, open_writer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def open_example(page, name: str) -> None:
    button(page, "Examples").click()
    page.get_by_role("menuitem", name=name).click()
    expect(page.locator(".design-name")).to_have_value(name)


def train_and_export(page, tmp_path, epochs: str | None) -> None:
    """Train the open design briefly (epochs None: it already trained and was stopped), then
    Export ONNX (its trained weights) and open Try it."""
    if epochs is not None:
        set_epochs(page, epochs)
        button(page, "Train").click()
        assert until_not_running(page, timeout=150_000) == "finished"
    # The first export of a run builds and checks model.onnx in an export process.
    with page.expect_download(timeout=150_000) as info:
        button(page, "Export ONNX").click()
    info.value.save_as(tmp_path / info.value.suggested_filename)
    try_it = button(page, "Try it")
    expect(try_it).to_be_visible()
    try_it.click()
    card = page.locator(".try-card")
    expect(card).to_have_attribute("data-state", "ready", timeout=60_000)
    # the first input, run both ways
    expect(card).to_have_attribute("data-runs", "1", timeout=30_000)


def verdict_after(page, action) -> dict:
    """Do `action`, then wait until its input has run both ways; the panel's figures."""
    card = page.locator(".try-card")
    runs = int(card.get_attribute("data-runs"))
    action()
    expect(card).to_have_attribute("data-runs", str(runs + 1), timeout=30_000)
    verdict = card.locator(".try-verdict")
    return {"verdict": verdict.get_attribute("data-verdict"),
            "diff": float(verdict.get_attribute("data-max-diff")),
            "page": card.locator('.try-result[data-side="page"]').get_attribute("data-top"),
            "server": card.locator('.try-result[data-side="server"]').get_attribute("data-top"),
            "text": verdict.inner_text(), "times": card.locator(".try-time").inner_text()}


def test_a_drawn_digit_runs_in_the_page_and_agrees_with_the_server(page, tmp_path):
    open_example(page, "LeNet-style CNN")
    train_and_export(page, tmp_path, "2")
    card = page.locator(".try-card")
    expect(card).to_have_attribute("data-kind", "grid")
    assert card.get_attribute("data-ort-version") == "1.31.1"
    grid = card.locator(".try-grid")
    expect(grid).to_have_attribute("data-h", "8")
    box = grid.bounding_box()
    cell = box["width"] / 8

    def draw_a_one():
        page.mouse.move(box["x"] + 4.5 * cell, box["y"] + 0.8 * cell)
        page.mouse.down()
        for row in range(1, 8):
            page.mouse.move(box["x"] + 4.3 * cell, box["y"] + (row + 0.4) * cell, steps=2)
        page.mouse.up()

    seen = verdict_after(page, draw_a_one)
    assert seen["verdict"] == "agrees" and seen["diff"] < 1e-4, seen
    assert seen["page"] == seen["server"] is not None, seen
    assert re.search(r"agrees with the server \(max \|diff\| [\d.e-]+\)", seen["text"]), seen
    times = r"In this page [\d.]+ (ms|s) .* on the server [\d.]+ (ms|s)"
    assert re.search(times, seen["times"]), seen
    page.screenshot(path=str(artifact("try-onnx-digit.png")))

    real = verdict_after(page, lambda: card.get_by_role("button", name="A real one").click())
    assert real["verdict"] == "agrees", real
    page.keyboard.press("Escape")
    expect(card).to_have_count(0)


def test_a_point_on_the_plane_runs_both_ways(page, tmp_path):
    train_and_export(page, tmp_path, "3")  # the starter: the spiral MLP
    card = page.locator(".try-card")
    expect(card).to_have_attribute("data-kind", "plane")
    plane = card.locator(".try-plane")
    box = plane.bounding_box()
    seen = verdict_after(page, lambda: page.mouse.click(box["x"] + box["width"] * 0.7,
                                                        box["y"] + box["height"] * 0.3))
    assert seen["verdict"] == "agrees" and seen["page"] in ("0", "1"), seen
    readout = card.locator(".try-input .try-hint").first
    expect(readout).to_have_text(re.compile(r"^Input \(0\.\d+, 0\.\d+\)$"))
    page.screenshot(path=str(artifact("try-onnx-plane.png")))


def test_a_text_model_writes_on_from_a_typed_prompt(page, tmp_path):
    text = tmp_path / "two_cities.txt"
    text.write_text(TEXT)
    open_writer(page, tmp_path, text)
    button(page, "Train").click()
    card = page.locator(".text-card")  # a few run_text frames: it has learned something
    expect(card).to_have_attribute("data-step", re.compile(r"^[1-9]"), timeout=90_000)
    button(page, "Stop").click()
    assert until_not_running(page) == "stopped"
    train_and_export(page, tmp_path, None)
    card = page.locator(".try-card")
    expect(card).to_have_attribute("data-kind", "text")
    prompt = card.locator("textarea[name=try_prompt]")
    expect(prompt).to_have_value(TEXT[:16])  # the text's own opening, one window long
    written = card.locator(".try-written")
    expect(written).to_have_attribute("data-chars", "60")
    seen = verdict_after(page, lambda: (prompt.fill("it was the age of "),
                                        card.get_by_role("button", name="Write").click()))
    assert seen["verdict"] == "agrees", seen
    expect(written.locator(".text-prompt")).to_have_text("it was the age of "[-16:])
    assert len(written.locator(".text-written").inner_text()) == 60
    page.screenshot(path=str(artifact("try-onnx-text.png")))
