"""Files the "Bring your own" browser tests make and hand to the page: a small ONNX model, a zip
of image class folders, a text, a design document; and a drop on the canvas."""

from __future__ import annotations

import base64
import io
import json
import zipfile

from playwright.sync_api import expect

TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, it "
        "was the age of foolishness, it was the epoch of belief, it was the epoch of "
        "incredulity.\n") * 12


def small_onnx(path, op: str = "linear") -> None:
    """A 2 -> 16 -> 2 MLP exported by torch.onnx (op "cumsum": its output through CumSum, an
    operator Layerlab has no layer for)."""
    import torch
    from torch import nn

    class CumSum(nn.Module):
        def forward(self, x):
            return torch.cumsum(x, 1)

    torch.manual_seed(0)
    layers = [nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2)]
    if op == "cumsum":
        layers.append(CumSum())
    torch.onnx.export(nn.Sequential(*layers).eval(), (torch.randn(1, 2),), str(path), dynamo=False,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}})


def shapes_zip(path, per_class: int = 12) -> None:
    """Two classes of 24x24 greyscale pictures: filled circles and filled squares."""
    from PIL import Image, ImageDraw

    with zipfile.ZipFile(path, "w") as z:
        for name in ("circle", "square"):
            for i in range(per_class):
                image = Image.new("L", (24, 24), 0)
                draw = ImageDraw.Draw(image)
                o = 2 + i % 5
                box = [o, o, 22 - i % 3, 22 - i % 3]
                (draw.ellipse if name == "circle" else draw.rectangle)(box, fill=255)
                buf = io.BytesIO()
                image.save(buf, "PNG")
                z.writestr(f"shapes/{name}/{i:02d}.png", buf.getvalue())


def open_document(page, path, doc: dict) -> None:
    """Open a .layerlab.json through the Open menu's file input."""
    path.write_text(json.dumps(doc))
    page.set_input_files("input[name=document_file]", str(path))
    expect(page.locator(".design-name")).to_have_value(doc["name"])


def drop_file(page, path, name: str) -> None:
    """Drop a file on the canvas as a browser does (a drop event with its DataTransfer)."""
    data = base64.b64encode(path.read_bytes()).decode()
    transfer = page.evaluate_handle("""([data, name]) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name));
        return dt;
    }""", [data, name])
    page.dispatch_event(".canvas", "drop", {"dataTransfer": transfer})


def design(name: str, nodes: list, dataset: dict, **training) -> dict:
    edges = [{"source": a["id"], "target": b["id"]}
             for a, b in zip(nodes, nodes[1:], strict=False)]
    return {"format": "layerlab.network", "version": 1, "name": name, "nodes": nodes,
            "edges": edges, "training": {"dataset": dataset, **training}}


def open_writer(page, tmp_path, text_file) -> None:
    """Open a next-character design (Embedding, Flatten, Linear) that trains until stopped on
    `text_file`, uploaded through the training form's Upload block."""
    vocab = len(set(text_file.read_text()))
    nodes = [{"id": "in", "type": "Input"},
             {"id": "emb", "type": "Embedding",
              "params": {"num_embeddings": vocab, "embedding_dim": 8}},
             {"id": "flat", "type": "Flatten"},
             {"id": "out", "type": "Linear", "params": {"out_features": vocab}}]
    spec = {"name": "text", "seq_len": 16, "samples": 1500}
    open_document(page, tmp_path / "writer.layerlab.json",
                  design("Writer", nodes, spec, epochs=None))  # until stopped
    page.locator(".canvas").focus()
    page.keyboard.press("Escape")
    expect(page.locator(".training-form")).to_be_visible()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload text (.txt)…").click()
    chooser.value.set_files(str(text_file))
    expect(page.locator(".own-data .text-opening")).to_be_visible(timeout=30_000)
