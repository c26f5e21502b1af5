"""Issue 16, finding 6 in the page: a share link's Save makes a copy; the sharer's design stays."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORT, PageLog, artifact, wait_ready, watch
from tests.browser.helpers import (
    button,
    drag_layer,
    new_design,
    set_epochs,
    until_not_running,
    wait_valid,
)

TIMEOUT = 10


def test_saving_a_shared_design_makes_a_copy(page, browser, base_url):
    new_design(page)
    drag_layer(page, "Input", 120, 120)
    page.fill(".design-name", "The sharer's")
    page.press(".design-name", "Enter")
    button(page, "Save").click()
    page.wait_for_function("() => location.hash.startsWith('#design=')")
    original = page.evaluate("() => decodeURIComponent(location.hash.split('=')[1])")
    before = requests.get(f"{base_url}/api/designs/{original}", timeout=TIMEOUT).json()

    fresh = browser.new_context(viewport=VIEWPORT)  # another browser: none of the sharer's secrets
    try:
        log = PageLog()
        other = watch(fresh.new_page(), log)
        other.goto(page.url)
        wait_ready(other)
        expect(other.locator(".design-name")).to_have_value("The sharer's")
        other.fill(".design-name", "Mine now")
        other.press(".design-name", "Enter")
        button(other, "Save").click()
        expect(other.locator(".toast").filter(has_text="your own copy")).to_be_visible()
        other.wait_for_function(f"() => !location.hash.includes({original!r})")
        copy = other.evaluate("() => decodeURIComponent(location.hash.split('=')[1])")
        other.screenshot(path=str(artifact("ownership-copy.png")))
        assert copy != original
        assert requests.get(f"{base_url}/api/designs/{copy}",
                            timeout=TIMEOUT).json()["name"] == "Mine now"
        after = requests.get(f"{base_url}/api/designs/{original}", timeout=TIMEOUT).json()
        assert after == before  # the sharer's design is unchanged

        # Saving again updates the copy in place: it is this browser's own now.
        other.fill(".design-name", "Mine, again")
        other.press(".design-name", "Enter")
        button(other, "Save").click()
        expect(other.locator(".toast").filter(has_text="Saved “Mine, again”")).to_be_visible()
        assert copy in other.url
        assert requests.get(f"{base_url}/api/designs/{copy}",
                            timeout=TIMEOUT).json()["name"] == "Mine, again"
        assert not log.errors, log.errors
    finally:
        fresh.close()

    # The sharer still saves over its own design.
    page.fill(".design-name", "Still the sharer's")
    page.press(".design-name", "Enter")
    button(page, "Save").click()
    expect(page.locator(".toast").filter(has_text="Saved “Still the sharer's”")).to_be_visible()
    assert original in page.url
    assert requests.get(f"{base_url}/api/designs/{original}",
                        timeout=TIMEOUT).json()["name"] == "Still the sharer's"


@pytest.mark.timeout(180)
def test_a_run_this_browser_started_is_deleted_from_the_runs_tab(page, base_url):
    page.get_by_role("button", name="Examples").click()
    page.get_by_role("menuitem", name="Spiral MLP").click()
    wait_valid(page)
    set_epochs(page, "5")
    button(page, "Train").click()
    assert until_not_running(page) == "finished"
    first = page.evaluate("window.layerlab.runClient.runId")
    button(page, "Train").click()
    # A 5-epoch spiral run may start and finish between two looks at its state: wait for the
    # page to hold the new run, then for it to end.
    page.wait_for_function("id => window.layerlab.runClient.runId "
                           "&& window.layerlab.runClient.runId !== id", arg=first,
                           timeout=30_000)
    assert until_not_running(page) == "finished"
    if not page.locator(".insight").is_visible():
        button(page, "Insight").click()
    page.locator('.insight-tab[data-tab="runs"]').click()
    row = page.locator(f'[data-compare-run="{first}"]')
    expect(row).to_be_visible(timeout=20_000)
    page.screenshot(path=str(artifact("ownership-delete-run.png")))
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Delete run {first}").click()
    expect(row).to_have_count(0)
    expect(page.locator(".toast").filter(has_text=f"Deleted run {first}")).to_be_visible()
    assert requests.get(f"{base_url}/api/runs/{first}", timeout=TIMEOUT).status_code == 404


def test_deleting_a_saved_design_from_the_page(page, base_url):
    new_design(page)
    drag_layer(page, "Input", 120, 120)
    page.fill(".design-name", "To be deleted")
    page.press(".design-name", "Enter")
    button(page, "Save").click()
    page.wait_for_function("() => location.hash.startsWith('#design=')")
    design = page.evaluate("() => decodeURIComponent(location.hash.split('=')[1])")
    assert requests.get(f"{base_url}/api/designs/{design}", timeout=TIMEOUT).status_code == 200
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete saved design").click()
    expect(page.locator(".toast").filter(has_text="Deleted the saved")).to_be_visible()
    assert requests.get(f"{base_url}/api/designs/{design}", timeout=TIMEOUT).status_code == 404
    expect(page.locator(".design-name")).to_have_value("To be deleted")  # still open here
