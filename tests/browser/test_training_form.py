"""The training form is built from GET /api/training: its kinds, fields, choices and defaults."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifact
from tests.browser.helpers import deselect, wait_valid

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def schema(page) -> dict:
    return page.evaluate("() => fetch('/api/training').then((r) => r.json())")


def served(body: dict, path: str) -> dict:
    return next(f for f in body["fields"] if f["path"] == path)


def options(page, name: str) -> list[str]:
    return page.eval_on_selector_all(f'.training-form select[name="{name}"] option',
                                     "els => els.map((e) => e.value)")


def training(page) -> dict:
    return page.evaluate("() => window.layerlab.store.doc.training")


def test_the_form_follows_the_schema_and_the_kind(page):
    body = schema(page)
    deselect(page)
    form = page.locator(".training-form")
    assert options(page, "kind") == served(body, "kind")["choices"]
    assert options(page, "device") == served(body, "device")["choices"]
    assert options(page, "optimizer.name") == served(body, "optimizer.name")["choices"]
    expect(form.locator('[name="steps"]')).to_be_visible()
    expect(form.locator('[name="loss"]')).to_be_visible()
    expect(form.locator('[name="gan.d_steps"]')).to_have_count(0)
    page.screenshot(path=str(artifact("training-form-supervised.png")))

    form.locator('select[name="kind"]').select_option("gan")
    d_steps = form.locator('[name="gan.d_steps"]')
    expect(d_steps).to_have_value(str(served(body, "gan.d_steps")["default"]))
    loss = served(body, "gan.loss")["default"]
    expect(form.locator('select[name="gan.loss"]')).to_have_value(loss)
    expect(form.locator('select[name="gan.generator_optimizer.name"]')).to_be_visible()
    expect(form.locator('[name="loss"]')).to_have_count(0)  # supervised only: gone (doc too)
    t = training(page)
    assert t["kind"] == "gan" and "loss" not in t and "task" not in t, t
    d_steps.fill("3")
    d_steps.press("Enter")
    page.wait_for_function("() => window.layerlab.store.doc.training.gan?.d_steps === 3")
    form.locator(".form-section", has_text="Game").scroll_into_view_if_needed()
    page.screenshot(path=str(artifact("training-form-gan.png")))

    form.locator('select[name="kind"]').select_option("supervised")
    expect(d_steps).to_have_count(0)
    t = training(page)
    assert "gan" not in t and "kind" not in t, t
    wait_valid(page)


def test_grad_clip_zero_is_marked_invalid_as_the_server_refuses_it(page):
    body = schema(page)
    clip = served(body, "optimizer.grad_clip")
    assert clip["min"] == 0 and clip["min_exclusive"], clip
    deselect(page)
    field = page.locator('.training-form [name="optimizer.grad_clip"]')
    field.fill("0")
    box = page.locator('.training-form .field:has([name="optimizer.grad_clip"])')
    expect(box).to_have_class("field field-float is-invalid")
    expect(box.locator(".field-msg")).to_contain_text("above 0")
    assert "grad_clip" not in (training(page).get("optimizer") or {})
    field.fill("1.5")
    expect(box).not_to_have_class("field field-float is-invalid")
    page.wait_for_function("() => window.layerlab.store.doc.training.optimizer?.grad_clip === 1.5")
    wait_valid(page)


def test_a_field_of_one_optimizer_goes_when_another_is_chosen(page):
    deselect(page)
    form = page.locator(".training-form")
    expect(form.locator('[name="optimizer.momentum"]')).to_have_count(0)  # adam has none
    expect(form.locator('[name="optimizer.beta1"]')).to_be_visible()
    form.locator('select[name="optimizer.name"]').select_option("sgd")
    momentum = form.locator('[name="optimizer.momentum"]')
    momentum.fill("0.9")
    momentum.press("Enter")
    page.wait_for_function("() => window.layerlab.store.doc.training.optimizer.momentum === 0.9")
    expect(form.locator('[name="optimizer.beta1"]')).to_have_count(0)
    form.locator('select[name="optimizer.name"]').select_option("adam")
    expect(momentum).to_have_count(0)
    assert "momentum" not in training(page)["optimizer"]  # adam would refuse it
    wait_valid(page)


def test_a_design_without_a_learning_rate_shows_its_optimizers_default(page):
    # The run card's rate comes from the schema when the document leaves it out: sgd's 0.1,
    # not whatever the design before it had.
    lr = page.locator(".run-card input[name=lr]")
    page.evaluate("""() => {
        const store = window.layerlab.store;
        const doc = structuredClone(store.doc);
        doc.training.optimizer = {name: 'adam', lr: 0.003};
        store.commit(doc);
    }""")
    expect(lr).to_have_value("0.003")
    page.evaluate("""() => {
        const store = window.layerlab.store;
        const doc = structuredClone(store.doc);
        doc.training.optimizer = {name: 'sgd'};
        store.commit(doc);
    }""")
    expect(lr).to_have_value("0.1")
