"""HTTP routes (CONTRACTS.md §3): pages, catalogs, designs, uploads, runs and exports."""

from __future__ import annotations

import functools
import io
import json
import re
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask import send_file as flask_send_file

from server.data import dataset_catalog, save_upload
from server.graph import catalog_json, validate
from server.runs import RunError
from server.runs.artifacts import Artifact, check_header, export_document, run_onnx, run_weights
from server.web import previews
from server.web.errors import ApiError, bad_request, check_network
from server.web.parse import body_document
from server.web.services import lab

bp = Blueprint("layerlab", __name__)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FORMATS = ("onnx", "pytorch")
MAX_LISTED = 200  # runs one GET /api/runs lists at most

# -- pages --------------------------------------------------------------------------------------


@bp.get("/")
def index():
    """The editor."""
    return render_template("index.html", run_id=None, read_only=False)


@bp.get("/run/<run_id>")
def run_page(run_id: str):
    """The editor watching one run read-only (the audience link)."""
    if not ID.match(run_id) or lab().store.get_run(run_id) is None:
        abort(404)
    return render_template("index.html", run_id=run_id, read_only=True)


# -- catalogs -----------------------------------------------------------------------------------


@bp.get("/api/health")
def health():
    """Liveness and the run manager's counts."""
    return jsonify({"ok": True, "runs": lab().manager.stats()})


@bp.get("/api/layers")
def layers():
    """The layer catalog."""
    return jsonify(catalog_json())


@bp.get("/api/datasets")
def datasets():
    """The dataset catalog; each entry names its preview route."""
    return jsonify([{**d, "preview_url": f"/api/datasets/{d['name']}/preview"}
                    for d in dataset_catalog()])


@bp.get("/api/datasets/<name>/preview")
def dataset_preview(name: str):
    """A small preview of a dataset spec given as query parameters (plus `limit`)."""
    return jsonify(previews.dataset_preview(name, request.args.to_dict(), lab().data_dir))


@bp.get("/api/examples")
def examples():
    """The shipped example designs: id, name, description, document."""
    return jsonify(load_examples())


@functools.cache
def load_examples() -> list[dict]:
    """server/examples/*.layerlab.json, read once."""
    out = []
    for path in sorted(EXAMPLES.glob("*.layerlab.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        out.append({"id": path.name.removesuffix(".layerlab.json"), "name": doc.get("name"),
                    "description": doc.get("description", ""), "document": doc})
    return out


@bp.post("/api/validate")
def validate_document():
    """The validate JSON of a posted document."""
    return jsonify(validate(body_document(), data_dir=lab().data_dir).to_json())


# -- designs ------------------------------------------------------------------------------------


@bp.get("/api/designs")
def list_designs():
    """Saved designs, newest first, without their documents."""
    return jsonify(lab().store.list_designs())


@bp.post("/api/designs")
def create_design():
    """Save a new design (work in progress with graph errors is kept too)."""
    design = lab().store.create_design(check_network(body_document()))
    return jsonify(design), 201, {"Location": f"/api/designs/{design['id']}"}


@bp.get("/api/designs/<design_id>")
def get_design(design_id: str):
    """One saved design with its document."""
    return jsonify(found(lab().store.get_design(design_id), "design", design_id))


@bp.put("/api/designs/<design_id>")
def update_design(design_id: str):
    """Replace a saved design's document."""
    doc = check_network(body_document())
    return jsonify(found(lab().store.update_design(design_id, doc), "design", design_id))


@bp.delete("/api/designs/<design_id>")
def delete_design(design_id: str):
    """Delete a saved design."""
    if not lab().store.delete_design(design_id):
        raise ApiError("not_found", f"there is no design {design_id!r}")
    return "", 204


# -- uploads ------------------------------------------------------------------------------------


@bp.post("/api/uploads")
def upload():
    """A CSV table as multipart field `file`; returns its upload id, columns and preview."""
    request.max_content_length = current_app.config["MAX_UPLOAD_BYTES"] + 2**16
    file = request.files.get("file")
    if file is None:
        raise bad_request("send the CSV file as the multipart form field 'file'")
    summary = save_upload(lab().data_dir, file.filename or "upload.csv", file.read(),
                          max_bytes=current_app.config["MAX_UPLOAD_BYTES"])
    return jsonify(summary), 201


# -- runs and exports ---------------------------------------------------------------------------


@bp.get("/api/runs")
def list_runs():
    """Runs newest first; `?design_key=KEY` keeps one design's, `?limit=N` (1-200, 20)."""
    limit = request.args.get("limit", "20")
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LISTED:
        raise ApiError("bad_request", f"limit must be a whole number from 1 to {MAX_LISTED}; "
                       f"got {limit!r}"[:300], [{"field": "limit", "message": "out of range"}])
    return jsonify(lab().store.list_runs(request.args.get("design_key"), int(limit)))


@bp.get("/api/runs/<run_id>")
def get_run(run_id: str):
    """A run's status, config, final result and metric history."""
    return jsonify(lab().manager.details(run_id))


@bp.get("/api/runs/<run_id>/model.onnx")
def run_model(run_id: str):
    """The trained model as one ONNX file, checked against PyTorch with ONNX Runtime."""
    return send(run_onnx(lab().store, ended_run(run_id)))


@bp.get("/api/runs/<run_id>/weights.safetensors")
def run_weights_file(run_id: str):
    """The trained weights as safetensors."""
    return send(run_weights(lab().store, ended_run(run_id)))


@bp.post("/api/export")
def export():
    """A posted document with fresh weights, as ONNX (?format=onnx) or PyTorch source."""
    fmt = request.args.get("format", "onnx")
    if fmt not in FORMATS:
        raise bad_request(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    return send(export_document(body_document(), fmt, lab().data_dir))


# -- helpers ------------------------------------------------------------------------------------


def found(value, what: str, key: str):
    """`value`, or a not_found error naming what was looked for."""
    if value is None:
        raise ApiError("not_found", f"there is no {what} {key!r}")
    return value


def ended_run(run_id: str) -> dict:
    """A run's stored row, once it has ended (its weights are written when it does)."""
    row = found(lab().store.get_run(run_id), "run", run_id)
    if lab().manager.is_live(run_id):
        raise RunError("conflict", f"run {run_id} is still {row['status']}; its weights are "
                       "saved when it ends")
    return row


def send(artifact: Artifact) -> Response:
    """A file download, with the ONNX Runtime check in X-Layerlab-Check when there was one."""
    source = artifact.path if artifact.path is not None else io.BytesIO(artifact.data)
    response = flask_send_file(source, mimetype=artifact.mimetype, as_attachment=True,
                               download_name=artifact.filename, max_age=0)
    if artifact.check is not None:
        response.headers["X-Layerlab-Check"] = check_header(artifact.check)
    return response
