"""GET /api/datasets/<name>/preview: small JSON previews of a spec; errors name the field."""

import io

import pytest

pytestmark = pytest.mark.timeout(60)


def test_the_catalog_names_each_preview_route(client):
    catalog = client.get("/api/datasets").get_json()
    assert all(d["preview_url"] == f"/api/datasets/{d['name']}/preview" for d in catalog)


def test_a_plane_dataset_previews_its_training_points(client):
    body = client.get("/api/datasets/spiral/preview?samples=200&noise=0.1&seed=0").get_json()
    assert body["kind"] == "points" and body["task"] == "classification"
    assert len(body["x"]) == len(body["y"]) == 140  # the training split of 200 at val 0.3
    assert all(len(p) == 2 for p in body["x"]) and set(body["y"]) == {0, 1}
    assert body["extent"] == [-1.0, 1.0, -1.0, 1.0]
    big = client.get("/api/datasets/circle/preview?samples=5000").get_json()
    assert len(big["x"]) == 500
    assert len(client.get("/api/datasets/plane/preview?limit=50").get_json()["y"]) == 50
    again = client.get("/api/datasets/spiral/preview?samples=200&noise=0.1&seed=0").get_json()
    assert again == body  # the same spec gives the same points


def test_images_and_sequences_preview_a_few_examples(client):
    digits = client.get("/api/datasets/digits/preview").get_json()
    assert digits["kind"] == "images" and digits["shape"] == [1, 8, 8]
    assert len(digits["images"]) == len(digits["labels"]) == 16
    assert all(len(im) == 64 and 0 <= min(im) and max(im) <= 1 for im in digits["images"])
    sine = client.get("/api/datasets/sine/preview?seq_len=12").get_json()
    assert sine["kind"] == "sequences" and len(sine["x"]) == 4 and len(sine["x"][0]) == 12
    assert all(isinstance(v, float) for v in sine["y"])
    parity = client.get("/api/datasets/parity/preview").get_json()
    assert set(parity["y"]) <= {0, 1} and parity["classes"] == ["even", "odd"]


def test_an_upload_previews_its_table(client):
    csv = "a,b,label\n" + "".join(f"{i},{i * 2},{'yes' if i % 2 else 'no'}\n" for i in range(30))
    upload = client.post("/api/uploads", data={"file": (io.BytesIO(csv.encode()), "t.csv")},
                         content_type="multipart/form-data").get_json()
    body = client.get(f"/api/datasets/csv/preview?upload={upload['upload_id']}&target=label")
    table = body.get_json()
    assert table["kind"] == "table" and table["columns"] == ["a", "b", "label"]
    assert table["rows"] == 30 and table["task"] == "classification" and table["preview"]
    bad = client.get(f"/api/datasets/csv/preview?upload={upload['upload_id']}&target=nope")
    assert bad.status_code == 400 and bad.get_json()["details"][0]["field"] == "target"


@pytest.mark.parametrize("url, status, field", [
    ("/api/datasets/moons/preview", 404, "name"),
    ("/api/datasets/spiral/preview?samples=lots", 400, "samples"),
    ("/api/datasets/spiral/preview?samples=3", 400, "samples"),
    ("/api/datasets/spiral/preview?noise=nan", 400, "noise"),
    ("/api/datasets/spiral/preview?colour=red", 400, "colour"),
    ("/api/datasets/spiral/preview?limit=9999", 400, "limit"),
    ("/api/datasets/digits/preview?samples=10", 400, "samples"),
    ("/api/datasets/csv/preview?upload=0000000000000000&target=x", 400, "upload"),
    ("/api/datasets/mnist/preview", 404, "name"),
])
def test_bad_previews_are_json_errors_naming_the_field(client, url, status, field):
    response = client.get(url)
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"] in ("bad_request", "not_found") and body["message"]
    assert body["details"][0]["field"] == field
