"""HTTP routes (CONTRACTS.md §3, §7): pages, catalogs, designs, uploads, runs, exports and
baselines."""

from __future__ import annotations

import functools
import io
import json
import re
import secrets
import time
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask import send_file as flask_send_file

from server.baseline.result import json_ready
from server.data import dataset_catalog, save_upload
from server.data.imagezip import is_zip, save_zip
from server.data.textfile import save_text
from server.envs import env_catalog
from server.graph import catalog_json, validate
from server.graph.init import EXAMPLE_PREFIX, example_weights_path
from server.graph.training import training_json
from server.runs import RunError
from server.runs.artifacts import Artifact, check_header, export_document, run_onnx, run_weights
from server.runs.run import hash_token, token_matches
from server.web import baseline, previews
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
    """Liveness, the run manager's counts and its runner's state (a lost Ray cluster says
    so: new runs are refused while finished ones stay readable)."""
    manager = lab().manager
    return jsonify({"ok": True, "runs": manager.stats(), "runner": manager.runner()})


@bp.get("/api/devices")
def devices():
    """Where runs train: CPU cores, each GPU's name, memory and runs, where `auto` goes now."""
    return jsonify(lab().manager.devices())


@bp.get("/api/layers")
def layers():
    """The layer catalog."""
    return jsonify(catalog_json())


@bp.get("/api/training")
def training():
    """The training section's schema: every field of every kind, and what each kind shows."""
    return jsonify(training_json())


@bp.get("/api/datasets")
def datasets():
    """The dataset catalog; each entry names its preview route."""
    return jsonify([{**d, "preview_url": f"/api/datasets/{d['name']}/preview"}
                    for d in dataset_catalog()])


@bp.get("/api/environments")
def environments():
    """The dqn kind's environments: observation, actions, solved return, how each is drawn,
    and whether this server can run it (with why not)."""
    return jsonify(env_catalog())


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
    """server/examples/*.layerlab.json, read once: supervised designs first (the talk keys 1-9
    reach the classics), then each other kind's, by file name within a kind."""
    out = []
    for path in sorted(EXAMPLES.glob("*.layerlab.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        kind = (doc.get("training") or {}).get("kind", "supervised")
        example_id = path.name.removesuffix(".layerlab.json")
        trained = example_weights_path(example_id).is_file()
        out.append({"id": example_id, "name": doc.get("name"),
                    "description": doc.get("description", ""), "kind": kind, "document": doc,
                    # training.init's {"weights": ...} for its shipped trained weights, if any
                    "weights": f"{EXAMPLE_PREFIX}{example_id}" if trained else None})
    return sorted(out, key=lambda e: e["kind"] != "supervised")  # stable: names stay sorted


@bp.post("/api/validate")
def validate_document():
    """The validate JSON of a posted document."""
    return jsonify(validate(body_document(), data_dir=lab().data_dir).to_json())


# -- designs ------------------------------------------------------------------------------------


@bp.get("/api/designs")
def list_designs():
    """The designs of the owner secrets in X-Layerlab-Owner (comma separated), newest first."""
    return jsonify(lab().store.list_designs([hash_token(t) for t in owner_secrets()]))


@bp.post("/api/designs")
def create_design():
    """Save a new design (work in progress too); answers its `owner` secret, once."""
    doc = check_network(body_document())
    store = lab().store
    owner = secrets.token_urlsafe(24)
    presented = [t for t in owner_secrets() if len(t) >= 16]
    if presented:  # the browser's own secret: its designs count together against its quota
        owner = presented[0]
    owner_hash = hash_token(owner)
    check_design_quota(owner_hash, doc)
    check_storage()
    design = {**store.create_design(doc, owner_hash), "owner": owner}
    return jsonify(design), 201, {"Location": f"/api/designs/{design['id']}"}


@bp.get("/api/designs/<design_id>")
def get_design(design_id: str):
    """One saved design with its document (open to anyone with the id: share links)."""
    return jsonify(found(lab().store.get_design(design_id), "design", design_id))


@bp.put("/api/designs/<design_id>")
def update_design(design_id: str):
    """Replace a saved design's document (its owner only)."""
    doc = check_network(body_document())
    check_design_quota(owned_design(design_id), doc, design_id)
    return jsonify(found(lab().store.update_design(design_id, doc), "design", design_id))


@bp.delete("/api/designs/<design_id>")
def delete_design(design_id: str):
    """Delete a saved design (its owner only)."""
    owned_design(design_id)
    if not lab().store.delete_design(design_id):
        raise ApiError("not_found", f"there is no design {design_id!r}")
    return "", 204


# -- uploads ------------------------------------------------------------------------------------


@bp.post("/api/uploads")
def upload():
    """A file as multipart field `file`: a CSV table, a zip of image class folders or a UTF-8
    text (by form field `kind`, else by its name and first bytes); returns its upload id and
    what it holds (columns and preview; classes and counts; characters and vocabulary)."""
    config = current_app.config
    file, client, size = take_upload("the file", max(config["MAX_UPLOAD_BYTES"],
                                                     config["MAX_IMAGE_UPLOAD_BYTES"]))
    store = lab().store
    raw = file.read()
    if size + len(raw) > config["MAX_UPLOAD_BYTES_PER_CLIENT"]:
        raise quota(f"{client}'s uploads would pass "
                    f"{config['MAX_UPLOAD_BYTES_PER_CLIENT'] / 2**20:.0f} MiB together",
                    "MAX_UPLOAD_BYTES_PER_CLIENT")
    kind = upload_kind(request.form.get("kind"), file.filename or "", raw)
    if kind == "images":
        summary = save_zip(lab().data_dir, file.filename or "images.zip", raw,
                           max_bytes=config["MAX_IMAGE_UPLOAD_BYTES"])
    elif kind == "text":
        summary = save_text(lab().data_dir, file.filename or "text.txt", raw,
                            max_bytes=config["MAX_UPLOAD_BYTES"])
    else:
        summary = {**save_upload(lab().data_dir, file.filename or "upload.csv", raw,
                                 max_bytes=config["MAX_UPLOAD_BYTES"]), "kind": "csv"}
    store.add_upload(summary["upload_id"], client, len(raw))
    store.forget_size()
    return jsonify(summary), 201


UPLOAD_KINDS = ("csv", "images", "text")


def upload_kind(asked: str | None, filename: str, raw: bytes) -> str:
    """What an upload is: as asked, else a zip by its bytes, a text by its name, else CSV."""
    if asked:
        if asked not in UPLOAD_KINDS:
            raise ApiError("bad_request", f"kind must be one of {', '.join(UPLOAD_KINDS)}; got "
                           f"{asked!r}"[:300], [{"field": "kind", "message": "unknown kind"}])
        return asked
    if is_zip(raw) or filename.lower().endswith(".zip"):
        return "images"
    if filename.lower().endswith((".txt", ".md", ".text")):
        return "text"
    return "csv"


# -- runs and exports ---------------------------------------------------------------------------


@bp.get("/api/runs")
def list_runs():
    """Runs newest first; `?design_key=KEY` keeps one design's, `?limit=N` (1-200, 20)."""
    limit = request.args.get("limit", "20")
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LISTED:
        raise ApiError("bad_request", f"limit must be a whole number from 1 to {MAX_LISTED}; "
                       f"got {limit!r}"[:300], [{"field": "limit", "message": "out of range"}])
    runs = lab().store.list_runs(request.args.get("design_key"), int(limit))
    return jsonify(baseline.with_baselines(runs))


@bp.get("/api/runs/<run_id>")
def get_run(run_id: str):
    """A run's status, config, final result and metric history."""
    return jsonify(lab().manager.details(run_id))


@bp.delete("/api/runs/<run_id>")
def delete_run(run_id: str):
    """Delete an ended run, its history and files; needs its token in X-Layerlab-Token."""
    row = found(lab().store.get_run(run_id), "run", run_id)
    if not token_matches(request.headers.get("X-Layerlab-Token", ""), row["token_hash"]):
        raise ApiError("forbidden", f"run {run_id} can be deleted only with its token, in the "
                       "X-Layerlab-Token header (the page that started it holds it)")
    if lab().manager.is_live(run_id):
        raise RunError("conflict", f"run {run_id} is still {row['status']}; stop it first")
    lab().store.delete_run(run_id)
    return "", 204


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


@bp.post("/api/baseline")
def fit_baseline():
    """A random forest on the posted document's own data (`?trees=N`, 1-1000, default 100),
    stored with the design; the baseline JSON, its boundary's bytes as base64."""
    trees = request.args.get("trees", str(baseline.DEFAULT_TREES))
    count = int(trees) if re.fullmatch(r"[0-9]{1,6}", trees) else trees
    return jsonify(json_ready(baseline.fit(body_document(), count)))


@bp.get("/api/baseline")
def stored_baselines():
    """A design's stored baselines, newest first: `?design_key=KEY[&dataset_key=KEY]`."""
    design = request.args.get("design_key")
    if design is None:
        raise ApiError("bad_request", "name the design: GET /api/baseline?design_key=KEY (the "
                       "design_key of its runs)", [{"field": "design_key", "message": "missing"}])
    return jsonify(baseline.stored(design, request.args.get("dataset_key")))


# -- helpers ------------------------------------------------------------------------------------


def owner_secrets() -> list[str]:
    """The owner secrets a browser sent in X-Layerlab-Owner (comma separated, at most 500)."""
    header = request.headers.get("X-Layerlab-Owner", "")[:64 * 500]
    return [t for t in (p.strip() for p in header.split(",")) if 0 < len(t) <= 64][:500]


def owned_design(design_id: str) -> str:
    """The design's owner_hash; refused (403) unless the request holds its owner secret."""
    exists, owner_hash = lab().store.design_owner(design_id)
    if not exists:
        raise ApiError("not_found", f"there is no design {design_id!r}")
    if owner_hash is None:
        raise ApiError("forbidden", f"design {design_id} was saved before designs had owners "
                       "and cannot be changed; save it as a new design instead")
    if not any(token_matches(t, owner_hash) for t in owner_secrets()):
        raise ApiError("forbidden", f"design {design_id} belongs to another browser: send its "
                       "owner secret in X-Layerlab-Owner, or save it as a new design (a copy)")
    return owner_hash


def check_design_quota(owner_hash: str, doc: dict, replacing: str = "") -> None:
    """Refuse a design that would pass its owner's count or bytes (`replacing`: a PUT's id)."""
    config = current_app.config
    count, size = lab().store.owner_usage(owner_hash, replacing)
    if not replacing and count >= config["MAX_DESIGNS_PER_OWNER"]:
        raise quota(f"this browser keeps {count} designs, the most allowed; delete some first",
                    "MAX_DESIGNS_PER_OWNER")
    if size + len(json.dumps(doc)) > config["MAX_DESIGN_BYTES_PER_OWNER"]:
        raise quota(f"this browser's designs would pass "
                    f"{config['MAX_DESIGN_BYTES_PER_OWNER'] / 2**20:.0f} MiB together; delete "
                    "some first", "MAX_DESIGN_BYTES_PER_OWNER")


def take_upload(what: str, limit: int):
    """The multipart field `file` of an upload of at most `limit` bytes, once the sender's
    quota and the disk allow another: (the file, the sender, the bytes it sent before)."""
    config = current_app.config
    request.max_content_length = limit + 2**16  # the form's own bytes besides the file
    if request.mimetype != "multipart/form-data":
        raise ApiError("unsupported_media_type", f"send {what} as multipart/form-data "
                       f"(field 'file'), not {request.mimetype or 'no Content-Type'}")
    client = request.remote_addr or "unknown"
    hours = config["UPLOAD_QUOTA_HOURS"]
    count, size = lab().store.client_uploads(client, time.time() - hours * 3600)
    if count >= config["MAX_UPLOADS_PER_CLIENT"]:
        raise quota(f"{client} has uploaded {count} files in {hours:g} hours, the most allowed",
                    "MAX_UPLOADS_PER_CLIENT")
    check_storage()
    file = request.files.get("file")
    if file is None:
        raise bad_request(f"send {what} as the multipart form field 'file'")
    return file, client, size


def quota(message: str, setting: str) -> ApiError:
    """A quota refusal naming the setting that sets the limit."""
    return ApiError("quota_exceeded", f"{message} (setting {setting})",
                      [{"field": setting, "message": "limit reached"}])


def check_storage() -> None:
    """Refuse (507 storage_full) new stored things once the data folder passes its limit."""
    limit = current_app.config["MAX_STORED_BYTES"]
    if limit is not None and lab().store.stored_bytes() >= limit:
        raise ApiError("storage_full", f"the server's data folder holds more than "
                       f"{limit / 2**20:.0f} MiB (setting MAX_STORED_BYTES); delete runs or "
                       "designs first", [{"field": "MAX_STORED_BYTES", "message": "limit reached"}])


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
