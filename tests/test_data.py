"""The dataset catalog, describe() and the generated and shipped datasets."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from server.data import (
    DATASETS,
    Dataset,
    DatasetError,
    DatasetInfo,
    dataset_catalog,
    describe,
    load_dataset,
)

CONTRACT_NAMES = {"circle", "xor", "gaussian", "spiral", "plane", "multi_gaussian", "digits",
                  "sine", "parity", "csv", "mnist", "fashion_mnist", "images", "text"}
LOCAL = ["circle", "xor", "gaussian", "spiral", "plane", "multi_gaussian", "digits", "sine",
         "parity"]
TWO_D_CLS = ["circle", "xor", "gaussian", "spiral"]


def test_catalog_lists_every_contract_dataset_with_its_fields():
    cat = dataset_catalog()
    assert {d["name"] for d in cat} == CONTRACT_NAMES == set(DATASETS)
    json.dumps(cat)  # JSON-ready
    for d in cat:
        for key in ("name", "title", "task", "input_shape", "num_classes", "target_shape",
                    "default_samples", "params", "doc", "offline"):
            assert key in d, (d["name"], key)
        assert isinstance(d["doc"], str) and d["doc"]
        names = [p["name"] for p in d["params"]]
        assert "seed" in names and "val_fraction" in names
        if d["name"] in ("csv", "images", "text"):  # the upload decides classes and shapes
            continue
        assert d["task"] in ("classification", "regression")
        assert d["target_shape"] == ([] if d["task"] == "classification" else [1])
        assert (d["num_classes"] is None) == (d["task"] == "regression")
    by_name = {d["name"]: d for d in cat}
    assert by_name["spiral"]["input_shape"] == [2]
    assert by_name["digits"]["input_shape"] == [1, 8, 8]
    assert by_name["digits"]["default_samples"] == 1797
    assert "samples" not in [p["name"] for p in by_name["digits"]["params"]]
    assert by_name["sine"]["input_shape"] == [20, 1]
    assert by_name["mnist"]["offline"] is False and by_name["digits"]["offline"] is True


def test_catalog_import_is_pure():
    code = ("import sys, server.data, server.data.catalog; "
            "print(sorted(m for m in ('numpy', 'torch', 'flask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", LOCAL)
def test_local_dataset_matches_describe(name):
    info = describe({"name": name})
    assert isinstance(info, DatasetInfo) and info.name == name
    ds = load_dataset({"name": name})
    assert isinstance(ds, Dataset) and ds.info == info
    assert ds.task == info.task and ds.input_shape == info.input_shape
    assert ds.num_classes == info.num_classes
    for x, y, n in ((ds.x_train, ds.y_train, info.train_size),
                    (ds.x_val, ds.y_val, info.val_size)):
        assert x.dtype == np.float32 and x.shape == (n, *info.input_shape)
        assert np.isfinite(x).all()
        if info.task == "classification":
            assert y.dtype == np.int64 and y.shape == (n,)
            assert y.min() >= 0 and y.max() < info.num_classes
        else:
            assert y.dtype == np.float32 and y.shape == (n, *info.target_shape)
    if info.task == "classification":
        assert len(info.classes) == info.num_classes


@pytest.mark.parametrize("name", LOCAL)
def test_deterministic_by_seed(name):
    a = load_dataset({"name": name, "seed": 3})
    b = load_dataset({"name": name, "seed": 3})
    c = load_dataset({"name": name, "seed": 4})
    for f in ("x_train", "y_train", "x_val", "y_val"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.x_train, c.x_train)


def test_val_split_sizes_and_defaults():
    ds = load_dataset({"name": "spiral", "samples": 200, "val_fraction": 0.25})
    assert (len(ds.x_train), len(ds.x_val)) == (150, 50)
    assert describe({"name": "circle"}).val_size == 150  # 0.3 of 500
    assert describe({"name": "parity"}).val_size == 200  # 0.2 of 1000
    info = describe({"name": "sine", "samples": 10, "val_fraction": 0.1})
    assert (info.train_size, info.val_size) == (9, 1)


def test_digits_are_the_real_1797():
    ds = load_dataset({"name": "digits", "val_fraction": 0.25, "seed": 1})
    assert len(ds.x_train) + len(ds.x_val) == 1797
    assert ds.num_classes == 10 and ds.info.classes == [str(i) for i in range(10)]
    y = np.concatenate([ds.y_train, ds.y_val])
    assert set(np.unique(y)) == set(range(10))
    x = np.concatenate([ds.x_train, ds.x_val])
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.allclose(x * 16, np.round(x * 16))  # pixel counts 0..16 divided by 16
    # the mean "0" and "1" differ: real images, not noise
    zero, one = x[y == 0].mean(axis=0), x[y == 1].mean(axis=0)
    assert np.abs(zero - one).max() > 0.3


@pytest.mark.parametrize("name", TWO_D_CLS)
def test_two_d_sets_are_balanced_and_in_range(name):
    ds = load_dataset({"name": name, "samples": 1000, "val_fraction": 0.3})
    y = np.concatenate([ds.y_train, ds.y_val])
    x = np.concatenate([ds.x_train, ds.x_val])
    assert 0.4 < y.mean() < 0.6
    assert np.abs(x).max() < 2.0  # TF Playground's -6..6 divided by 6 (gaussian tails a bit)
    assert ds.info.extent == (-1.0, 1.0, -1.0, 1.0)


def test_two_d_sets_are_separable():
    def pts(name, noise=0.0):
        ds = load_dataset({"name": name, "samples": 1000, "noise": noise})
        return np.concatenate([ds.x_train, ds.x_val]), np.concatenate([ds.y_train, ds.y_val])

    x, y = pts("circle")
    r = np.linalg.norm(x, axis=1)
    assert r[y == 1].max() < r[y == 0].min()  # class 1 inside
    x, y = pts("circle", 0.1)
    assert np.corrcoef(r, y)[0, 1] < -0.7
    x, y = pts("xor")
    assert np.array_equal(y, (x[:, 0] * x[:, 1] >= 0).astype(np.int64))
    x, y = pts("gaussian")
    assert ((x.sum(axis=1) > 0) == (y == 1)).mean() > 0.95
    x, y = pts("spiral")
    assert y.sum() == 500


def test_regression_planes():
    ds = load_dataset({"name": "plane", "noise": 0.0})
    x, t = ds.x_train, ds.y_train[:, 0]
    np.testing.assert_allclose(t, (x[:, 0] + x[:, 1]) * 6 / 10, atol=1e-5)
    ds = load_dataset({"name": "multi_gaussian", "noise": 0.0, "samples": 2000})
    t = ds.y_train[:, 0]
    assert t.min() >= -1 and t.max() <= 1 and t.std() > 0.2
    describe({"name": "plane", "noise": 4.5})  # regression noise goes up to 5


def test_sequences():
    ds = load_dataset({"name": "parity", "seq_len": 5, "samples": 300})
    assert ds.input_shape == (5, 1) and ds.x_train.shape[1:] == (5, 1)
    assert set(np.unique(ds.x_train)) == {0.0, 1.0}
    np.testing.assert_array_equal(ds.y_train, ds.x_train[:, :, 0].sum(axis=1).astype(int) % 2)
    ds = load_dataset({"name": "sine", "seq_len": 12, "noise": 0.0, "samples": 100})
    assert ds.x_train.shape == (80, 12, 1) and ds.y_train.shape == (80, 1)
    assert np.abs(ds.x_train).max() <= 1.0 and np.abs(ds.y_train).max() <= 1.0
    # a clean sine obeys s[t+1] = 2cos(w)s[t] - s[t-1]: the target continues the window
    s = ds.x_train[:, :, 0].astype(np.float64)
    two_cos = (s[:, 2] + s[:, 0]) / s[:, 1]
    ok = np.abs(s[:, 1]) > 0.3
    pred = two_cos * s[:, -1] - s[:, -2]
    np.testing.assert_allclose(pred[ok], ds.y_train[ok, 0], atol=1e-3)


@pytest.mark.parametrize("spec,field", [
    ({"name": "nope"}, "name"),
    ({}, "name"),
    ({"name": 3}, "name"),
    ({"name": "circle", "samples": 5}, "samples"),
    ({"name": "circle", "samples": 100_001}, "samples"),
    ({"name": "circle", "samples": "many"}, "samples"),
    ({"name": "circle", "samples": True}, "samples"),
    ({"name": "circle", "samples": 10.5}, "samples"),
    ({"name": "circle", "noise": 1.5}, "noise"),
    ({"name": "plane", "noise": 6}, "noise"),
    ({"name": "circle", "val_fraction": 0.95}, "val_fraction"),
    ({"name": "circle", "val_fraction": 0.0}, "val_fraction"),
    ({"name": "circle", "samples": 10, "val_fraction": 0.01}, "val_fraction"),
    ({"name": "circle", "seed": -1}, "seed"),
    ({"name": "circle", "seed": "x"}, "seed"),
    ({"name": "circle", "colour": "red"}, "colour"),
    ({"name": "digits", "samples": 100}, "samples"),
    ({"name": "parity", "seq_len": 1}, "seq_len"),
    ({"name": "sine", "seq_len": 201}, "seq_len"),
    ({"name": "csv", "target": "y"}, "upload"),
])
def test_describe_errors_name_the_field(spec, field):
    with pytest.raises(DatasetError) as exc:
        describe(spec)
    assert exc.value.field == field
    assert str(exc.value) == exc.value.message and exc.value.message


def test_describe_error_messages():
    with pytest.raises(DatasetError, match="unknown dataset 'nope'; known: circle"):
        describe({"name": "nope"})
    with pytest.raises(DatasetError, match="between 10 and 100000"):
        describe({"name": "spiral", "samples": 5})
    with pytest.raises(DatasetError, match="does not take 'colour'"):
        describe({"name": "spiral", "colour": 1})
    with pytest.raises(DatasetError) as exc:
        describe("spiral")
    assert exc.value.field is None


def test_describe_normalises_and_fills_defaults():
    info = describe({"name": "spiral", "samples": 300.0, "noise": 0, "seed": None})
    assert info.params == {"samples": 300, "noise": 0.0, "val_fraction": 0.3, "seed": 0}
    assert isinstance(info.params["samples"], int)
    assert info.to_json()["input_shape"] == [2]
    assert describe({"name": "sine", "seq_len": 7}).input_shape == (7, 1)


def test_download_sets_describe_without_network(tmp_path):
    info = describe({"name": "fashion_mnist"}, data_dir=tmp_path)
    assert info.input_shape == (1, 28, 28) and info.num_classes == 10
    assert (info.train_size, info.val_size) == (60_000, 10_000)
    assert info.classes[9] == "Ankle boot"
    info = describe({"name": "mnist", "samples": 1000}, data_dir=tmp_path)
    assert (info.train_size, info.val_size) == (800, 200)
    assert not (tmp_path / "datasets").exists()
