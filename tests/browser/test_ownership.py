"""Issue 16, finding 6 in the page: a share link's Save makes a copy; the sharer's design stays."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORT, PageLog, artifact, wait_ready, watch
from tests.browser.helpers import button, drag_layer, new_design

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
