"""The data side of the run card: a CSV upload becomes the dataset and trains."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import artifact
from tests.browser.helpers import (
    button,
    connect,
    deselect,
    drag_layer,
    new_design,
    set_param,
    until_not_running,
    wait_points,
    wait_valid,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def iris_like(path, rows: int = 150) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    lines = ["sepal,petal,width,species"]
    names = ["setosa", "versicolor", "virginica"]
    for i in range(rows):
        k = i % 3
        a, b, c = rng.normal(loc=k * 2.0, scale=0.4, size=3)
        lines.append(f"{a:.3f},{b:.3f},{c:.3f},{names[k]}")
    path.write_text("\n".join(lines) + "\n")


def test_csv_upload_picks_the_target_and_trains(page, tmp_path):
    csv = tmp_path / "flowers.csv"
    iris_like(csv)
    new_design(page)
    a = drag_layer(page, "Input", 120, 120)
    b = drag_layer(page, "Linear", 360, 120)
    connect(page, a, b)
    set_param(page, b, "out_features", "3")
    deselect(page)
    page.select_option("select[name=dataset]", "csv")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload CSV…").click()
    chooser.value.set_files(str(csv))
    expect(page.locator(".training-form select[name=target]")).to_have_value("species")
    expect(page.locator(".csv-preview")).to_be_visible()
    wait_valid(page)
    expect(page.locator(f'[data-node-id="{a}"] .node-shape')).to_have_text("[3]")
    page.fill(".training-form [name=epochs]", "5")
    wait_valid(page)
    page.screenshot(path=str(artifact("csv-upload.png")))
    button(page, "Train").click()
    assert until_not_running(page) == "finished"
    wait_points(page, 1, chart="accuracy")
