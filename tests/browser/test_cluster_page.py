"""A lost Ray cluster on the page (issue 14): a real `layerlab serve --runner ray` on a local Ray
head; when the head dies, every open page says so, and Train says why it cannot start."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import cluster
from tests.browser.conftest import PageLog, artifact, wait_ready, watch
from tests.browser.helpers import button
from tests.live import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.timeout(300)]
if cluster.missing():
    pytest.skip(cluster.missing(), allow_module_level=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """{"head", "server"}: a one-node Ray cluster and a server whose runs are its actors."""
    folder = tmp_path_factory.mktemp("cluster-page")
    made: dict = {}
    try:
        made["head"] = cluster.RayHead(cpus=2)
        made["server"] = cluster.Served(folder / "data", folder / "server.log", "--runner", "ray",
                                        "--ray-address", made["head"].address)
        wait_for(lambda: made["server"].get("/api/health")["runner"]["ok"], 120,
                 "the server to reach the Ray cluster")
        yield made
    finally:
        for name in ("server", "head"):
            if name in made:
                made[name].close()


def test_every_page_says_the_cluster_is_lost_and_train_says_why(served, context):
    url = served["server"].url
    log = PageLog()
    editor = watch(context.new_page(), log)
    editor.goto(url + "/")
    wait_ready(editor)
    banner = editor.locator(".server-banner")
    expect(banner).to_be_hidden()  # a cluster that answers: nothing to say
    expect(button(editor, "Train")).to_be_enabled()

    served["head"].kill()
    expect(banner).to_be_visible(timeout=90_000)  # pushed by server_status, no reload
    expect(banner).to_have_attribute("data-runner-state", "lost")
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("Training cluster unavailable")
    expect(banner).to_contain_text("finished runs can still be opened")
    train = button(editor, "Train")
    expect(train).to_be_disabled()
    lost = served["server"].get("/api/health")["runner"]["message"]
    expect(train).to_have_attribute("title", f"New runs cannot start: {lost}.")
    expect(editor.locator(".train-hint")).to_contain_text("Training cluster unavailable")
    editor.screenshot(path=str(artifact("cluster-lost-editor.png")))

    # A page opened after the loss hears it on connect.
    later = watch(context.new_page(), log)
    later.goto(url + "/")
    wait_ready(later)
    expect(later.locator(".server-banner[data-runner-state=lost]")).to_be_visible()
    assert not log.errors, "console errors:\n" + "\n".join(log.errors)
    assert not log.foreign
