"""Uploaded CSV tables: save_upload, describe and load_dataset, and every bad-file message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from server.data import DatasetError, describe, load_dataset, save_upload

IRIS_LIKE = (
    "sepal_length,sepal_width,species\n"
    + "".join(f"{5 + i * 0.1:.1f},{3 + (i % 7) * 0.1:.1f},{['setosa', 'virginica'][i % 2]}\n"
              for i in range(40))
)


def upload(tmp_path, text, name="t.csv"):
    return save_upload(tmp_path, name, text.encode())


def spec(up, target, **kw):
    return {"name": "csv", "upload": up["upload_id"], "target": target, **kw}


def test_happy_path_text_target(tmp_path):
    up = upload(tmp_path, IRIS_LIKE, "../../evil/iris.csv")
    assert up["columns"] == ["sepal_length", "sepal_width", "species"]
    assert up["rows"] == 40 and len(up["preview"]) == 5
    assert up["preview"][0] == ["5.0", "3.0", "setosa"]
    assert up["kinds"]["species"] == "text" and up["suggested_target"] == "species"
    assert up["filename"] == "iris.csv"
    assert (tmp_path / "uploads" / f"{up['upload_id']}.csv").read_text() == IRIS_LIKE

    info = describe(spec(up, "species"), data_dir=tmp_path)
    assert info.task == "classification" and info.num_classes == 2
    assert info.classes == ["setosa", "virginica"]
    assert info.input_shape == (2,) and info.target_shape == ()
    assert (info.train_size, info.val_size) == (32, 8)  # default val_fraction 0.2

    ds = load_dataset(spec(up, "species", seed=1), data_dir=tmp_path)
    assert ds.x_train.shape == (32, 2) and ds.x_val.shape == (8, 2)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)  # standardised on train
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1, atol=1e-4)
    # labels follow the rows: species alternates with the row index, sepal_length rises with it
    x = np.concatenate([ds.x_train, ds.x_val])
    y = np.concatenate([ds.y_train, ds.y_val])
    row = np.round((x[:, 0] - x[:, 0].min()) / (x[:, 0].max() - x[:, 0].min()) * 39).astype(int)
    np.testing.assert_array_equal(y, row % 2)
    again = load_dataset(spec(up, "species", seed=1), data_dir=tmp_path)
    np.testing.assert_array_equal(again.x_train, ds.x_train)


def test_numeric_targets_and_task_override(tmp_path):
    text = "a;b;grade;price\n" + "".join(f"{i};{i * i % 7};{i % 3};{i * 1.5}\n"
                                          for i in range(30))
    up = upload(tmp_path, text)  # semicolons are detected
    assert up["columns"] == ["a", "b", "grade", "price"]
    info = describe(spec(up, "grade"), data_dir=tmp_path)
    assert info.task == "classification" and info.classes == ["0", "1", "2"]
    info = describe(spec(up, "price"), data_dir=tmp_path)
    assert info.task == "regression" and info.target_shape == (1,) and info.classes is None
    ds = load_dataset(spec(up, "price", val_fraction=0.5), data_dir=tmp_path)
    assert ds.y_train.shape == (15, 1) and ds.y_train.dtype == np.float32
    assert sorted(np.concatenate([ds.y_train, ds.y_val])[:, 0]) == [i * 1.5 for i in range(30)]
    info = describe(spec(up, "grade", task="regression"), data_dir=tmp_path)
    assert info.task == "regression"
    ds = load_dataset(spec(up, "a", task="classification"), data_dir=tmp_path)
    assert ds.num_classes == 30 and ds.info.classes[:3] == ["0", "1", "2"]


def test_many_whole_numbers_are_regression(tmp_path):
    text = "x,y\n" + "".join(f"{i},{i * 2}\n" for i in range(25))
    up = upload(tmp_path, text)
    assert describe(spec(up, "y"), data_dir=tmp_path).task == "regression"


def test_sidecar_is_rebuilt_when_missing(tmp_path):
    up = upload(tmp_path, IRIS_LIKE)
    side = tmp_path / "uploads" / f"{up['upload_id']}.json"
    assert json.loads(side.read_text())["rows"] == 40
    side.unlink()
    assert describe(spec(up, "species"), data_dir=tmp_path).num_classes == 2
    assert side.exists()


def test_hand_placed_file_is_checked(tmp_path):
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "mine.csv").write_text("x,y\n1,2\n3\n")
    with pytest.raises(DatasetError, match="line 3 .*1 values but the header has 2") as exc:
        describe({"name": "csv", "upload": "mine", "target": "y"}, data_dir=tmp_path)
    assert exc.value.field == "upload"


@pytest.mark.parametrize("text,pattern", [
    ("", "the file is empty"),
    ("\n  \n", "the file is empty"),
    ("a,b\n", r"at least 2 data rows .*found 0"),
    ("a,b\n1,2\n", r"at least 2 data rows .*found 1"),
    ("a,b\n1,2\n3,4,5\n", r"line 3 \(data row 2\) has 3 values but the header has 2 columns"),
    ("a,b,c\n1,2,3\n4,5\n", r"line 3 \(data row 2\) has 2 values"),
    ("a,b\n1,2\n3,\n", r"line 3 \(data row 2\) has an empty value in column 'b'"),
    ("1,2\n3,4\n5,6\n", "first line must be a header"),
    ("a,,c\n1,2,3\n4,5,6\n", "column 2 has no name"),
    ("a,a\n1,2\n3,4\n", "'a' appears more than once"),
    ("only\n1\n2\n", "at least two columns"),
    ("x,name,kind\n1,bob,a\n2,amy,b\n", r"column 'kind' has a non-numeric value 'a' at line 2"),
])
def test_bad_files_are_refused_on_upload(tmp_path, text, pattern):
    with pytest.raises(DatasetError, match=pattern) as exc:
        upload(tmp_path, text)
    assert exc.value.field == "upload"
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def test_upload_size_limit(tmp_path):
    with pytest.raises(DatasetError, match="limit is 1 MiB") as exc:
        save_upload(tmp_path, "big.csv", b"a,b\n" + b"1,2\n" * 300_000, max_bytes=2**20)
    assert exc.value.field == "upload"


def test_non_numeric_feature_names_column_and_row(tmp_path):
    text = "height,colour,weight\n1.5,2,60\n1.7,3,70\n1.8,red,80\n1.6,4,65\n"
    up = upload(tmp_path, text)
    assert up["kinds"]["colour"] == "text"
    with pytest.raises(DatasetError) as exc:
        describe(spec(up, "weight"), data_dir=tmp_path)
    assert exc.value.field == "target"
    msg = exc.value.message
    assert "column 'colour'" in msg and "'red'" in msg and "line 4 (data row 3)" in msg
    # choosing the text column as target is fine
    assert describe(spec(up, "colour"), data_dir=tmp_path).task == "classification"
    with pytest.raises(DatasetError, match="regression needs a numeric target") as exc:
        describe(spec(up, "colour", task="regression"), data_dir=tmp_path)
    assert exc.value.field == "task"


def test_spec_errors(tmp_path):
    up = upload(tmp_path, IRIS_LIKE)
    cases = [
        ({"name": "csv", "target": "species"}, "upload", "needs 'upload'"),
        ({"name": "csv", "upload": up["upload_id"]}, "target", "needs 'target'"),
        (spec(up, "petal"), "target",
         "'petal' is not in the table; its columns are: sepal_length, sepal_width, species"),
        ({"name": "csv", "upload": "missing1", "target": "y"}, "upload", "was not found"),
        ({"name": "csv", "upload": "../etc/passwd", "target": "y"}, "upload", "must match"),
        (spec(up, "species", samples=10), "samples", "does not take 'samples'"),
        (spec(up, "species", task="guess"), "task", "one of auto, classification"),
    ]
    for s, field, text in cases:
        with pytest.raises(DatasetError) as exc:
            describe(s, data_dir=tmp_path)
        assert exc.value.field == field, s
        assert text in exc.value.message, (text, exc.value.message)


def test_single_class_target_and_val_split(tmp_path):
    up = upload(tmp_path, "x,y\n1,a\n2,a\n3,a\n")
    with pytest.raises(DatasetError, match="single value") as exc:
        describe(spec(up, "y"), data_dir=tmp_path)
    assert exc.value.field == "target"
    up = upload(tmp_path, "x,y\n1,2\n3,4\n")
    info = describe(spec(up, "y", val_fraction=0.5), data_dir=tmp_path)
    assert (info.train_size, info.val_size) == (1, 1)
    with pytest.raises(DatasetError) as exc:
        describe(spec(up, "y", val_fraction=0.1), data_dir=tmp_path)
    assert exc.value.field == "val_fraction"


def test_bom_crlf_blank_lines_tabs_and_default_data_dir(tmp_path, monkeypatch):
    raw = "\ufeffa\tb\tc\r\n1\t2\tx\r\n3\t4\ty\r\n\r\n5\t6\tx\r\n".encode()
    up = save_upload(tmp_path, "w.tsv", raw)
    assert up["columns"] == ["a", "b", "c"] and up["rows"] == 3
    monkeypatch.setenv("LAYERLAB_DATA_DIR", str(tmp_path))
    ds = load_dataset(spec(up, "c", val_fraction=0.34))  # data_dir from the environment
    assert ds.info.classes == ["x", "y"] and len(ds.x_train) == 2 and len(ds.x_val) == 1
    bad = b"a,b\n1,2\n3,4\n5,x\n"
    up = save_upload(tmp_path, "b.csv", bad)
    with pytest.raises(DatasetError, match=r"column 'b' has a non-numeric value 'x' at line 4"):
        describe(spec(up, "a"))
