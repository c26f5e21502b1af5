"""The `layerlab` command line: serve, validate, train, export, baseline, import (CONTRACTS.md
§2, §7)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line itself is wrong (exit 2)."""


def read_document(path: str) -> dict | str:
    """The parsed document, or a message saying why it is not JSON."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return f"{path} is not UTF-8 text"
    except json.JSONDecodeError as e:
        return f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"


def emit_json(obj: dict) -> None:
    """Print the one JSON object that --json promises as the last line of stdout."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def slug(name: str) -> str:
    """A file-name-safe version of a design name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "design"


# -- validate ---------------------------------------------------------------------------------

def cmd_validate(args) -> int:
    """layerlab validate DOC [--json]."""
    from server.graph import validate

    doc = read_document(args.doc)
    if isinstance(doc, str):
        report = {"ok": False, "shapes": {}, "params": {}, "total_params": 0,
                  "errors": [{"node": None, "param": None, "message": doc}]}
    else:
        report = validate(doc, data_dir=args.data_dir).to_json()
    if args.json:
        emit_json(report)
    else:
        print_report(report, doc if isinstance(doc, dict) else None)
    return EXIT_OK if report["ok"] else EXIT_FAILED


def print_report(report: dict, doc: dict | None) -> None:
    """A readable table of shapes and parameter counts, then every problem."""
    types = {n.get("id"): n.get("type") for n in (doc or {}).get("nodes", [])
             if isinstance(n, dict)}
    if report["shapes"]:
        print(f"{'node':<20} {'type':<24} {'output shape':<20} {'params':>12}")
        for node_id, shape in report["shapes"].items():
            print(f"{node_id:<20} {str(types.get(node_id, '')):<24} {str(shape):<20} "
                  f"{report['params'][node_id]:>12,}")
        print(f"{'total':<66} {report['total_params']:>12,}")
    for e in report["errors"]:
        where = " ".join(x for x in (e["node"] and f"[{e['node']}]", e["param"]) if x)
        print(f"error: {where + ': ' if where else ''}{e['message']}", file=sys.stderr)
    print("valid" if report["ok"] else f"invalid: {len(report['errors'])} problem(s)",
          file=sys.stderr if not report["ok"] else sys.stdout)


# -- train ------------------------------------------------------------------------------------

SHOWN = ("train_loss", "val_loss", "val_accuracy", "d_loss", "g_loss", "mmd", "episode_return",
         "td_loss")  # on the progress bar


def cmd_train(args) -> int:
    """layerlab train DOC [--epochs N | --steps N] [--device D] [--out DIR] [--json]."""
    from tqdm import tqdm

    from server.graph import DocumentError, parse_document
    from server.kinds import kind_of
    from server.model import save_weights
    from server.train import Control, TrainError

    doc = read_document(args.doc)
    if isinstance(doc, str):
        return fail(args, doc)
    try:
        network = parse_document(doc, data_dir=args.data_dir)
    except DocumentError as e:
        return fail(args, str(e), errors=e.errors)
    control = Control()
    bar = tqdm(desc=network.name, unit="step", file=sys.stderr, dynamic_ncols=True,
               disable=args.quiet)
    trainer = None

    def on_point(point: dict) -> None:
        bar.total = trainer.total_steps()
        bar.update(point["step"] - bar.n)
        shown = {k: f"{point[k]:.4g}" for k in SHOWN if point.get(k) is not None}
        bar.set_postfix(shown, refresh=False)

    previous = signal.signal(signal.SIGINT, lambda *_: control.stop())
    try:
        kind = kind_of(network)
        trainer = kind.trainer(network, data_dir=args.data_dir, control=control,
                               on_point=on_point, epochs=args.epochs, steps=args.steps,
                               device=args.device, init_weights=args.init_weights)
        result = trainer.run()
    except TrainError as e:
        bar.close()
        return fail(args, str(e))
    finally:
        signal.signal(signal.SIGINT, previous)
    bar.update(result.steps - bar.n)
    bar.close()
    out = Path(args.out or Path("runs") / f"{slug(network.name)}-{time.strftime('%Y%m%d-%H%M%S')}")
    weights = save_weights(result.model, out / "weights.safetensors")
    summary = {"ok": True, "state": result.state, "steps": result.steps, "epochs": result.epochs,
               **kind.summary(result),
               "samples_per_second": round(result.samples_per_second, 1),
               "device": result.device, "weights": str(weights)}
    (out / "metrics.json").write_text(json.dumps({**summary, "history": result.history}))
    (out / "design.layerlab.json").write_text(json.dumps(doc, indent=2))
    if args.json:
        emit_json(summary)
    else:
        figures = ", ".join(f"{k} {v:.4g}" for k, v in kind.summary(result).items()
                            if isinstance(v, float))
        print(f"{result.state}: {result.steps} steps, {result.epochs} epochs, {figures} on "
              f"{result.device}; weights in {weights}")
    return EXIT_OK


def fail(args, message: str, errors: list | None = None) -> int:
    """Report a failure as text (stderr) or as the --json object, and return exit 1."""
    if getattr(args, "json", False):
        emit_json({"ok": False, "error": message, "errors": errors or []})
    else:
        print(f"error: {message}", file=sys.stderr)
        for e in (errors or [])[1:]:
            where = e["node"] or e["param"] or ""
            print(f"error: {where + ': ' if where else ''}{e['message']}", file=sys.stderr)
    return EXIT_FAILED


# -- export -----------------------------------------------------------------------------------

def cmd_export(args) -> int:
    """layerlab export DOC [--weights FILE] [--format onnx|pytorch] -o OUT [--check]."""
    from tqdm import tqdm

    from server.export import ExportError, export_onnx
    from server.graph import DocumentError, parse_document
    from server.kinds import kind_of
    from server.model import WeightsError, apply_weights, load_weights

    as_json = args.json or args.check
    args.json = as_json
    doc = read_document(args.doc)
    if isinstance(doc, str):
        return fail(args, doc)
    try:
        network = parse_document(doc, data_dir=args.data_dir)
        kind = kind_of(network)
        model = kind.build(network, seed=network.training["seed"])
        if args.weights:
            apply_weights(model, load_weights(args.weights))
    except (DocumentError, WeightsError) as e:
        return fail(args, str(e), errors=getattr(e, "errors", None))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "pytorch":
        out.write_text(kind.pytorch_source(network, model), encoding="utf-8")
        result = {"ok": True, "path": str(out), "format": "pytorch"}
        print(f"wrote {out}", file=sys.stderr)
    else:
        stages = tqdm(total=3, desc="export", file=sys.stderr, disable=args.quiet,
                      bar_format="{desc}: {n}/{total} {postfix}")

        def progress(stage: str) -> None:
            stages.set_postfix_str(stage)
            stages.update(1)

        try:
            target, module, input_name = kind.onnx_target(network, model)
            res = export_onnx(module, target, out, check=args.check, progress=progress,
                              input_name=input_name)
        except ExportError as e:
            stages.close()
            return fail(args, str(e))
        stages.close()
        result = {"ok": bool(res.ok), "path": str(res.path), "max_abs_diff": res.max_abs_diff,
                  "opset": res.opset, "exporter": res.exporter, "message": res.message}
        print(f"wrote {res.path} (opset {res.opset}, {res.exporter} exporter"
              + (f", max_abs_diff {res.max_abs_diff:.3g}" if res.max_abs_diff is not None
                 else "") + ")", file=sys.stderr)
    if as_json:
        emit_json(result)
    return EXIT_OK if result["ok"] else EXIT_FAILED


# -- baseline ---------------------------------------------------------------------------------

def cmd_baseline(args) -> int:
    """layerlab baseline DOC [--trees 100] [--onnx OUT] [--json]."""
    from tqdm import tqdm

    from server.baseline import BaselineError, check_document, dataset_key
    from server.baseline.result import json_ready
    from server.runs.run import design_key

    doc = read_document(args.doc)
    if isinstance(doc, str):
        return fail(args, doc)
    try:
        network = check_document(doc, data_dir=args.data_dir)
        from server.baseline.forest import fit_forest  # scikit-learn loads only here

        with tqdm(total=args.trees, desc=f"{network.name}: random forest", unit="tree",
                  file=sys.stderr, dynamic_ncols=True, disable=args.quiet) as bar:
            fitted = fit_forest(network, args.trees, data_dir=args.data_dir, jobs=0,
                                progress=lambda grown: bar.update(grown - bar.n))
        result = {**fitted.result, "design_key": design_key(doc),
                  "dataset_key": dataset_key(network)}
        if args.onnx:
            from server.baseline.onnx import export_forest

            result["onnx"] = export_forest(fitted, args.onnx)
    except BaselineError as e:
        return fail(args, e.message, errors=e.errors)
    ok = result.get("onnx", {"ok": True})["ok"]
    if args.json:
        emit_json({**json_ready(result), "ok": ok})
    else:
        figure = (f"val_accuracy {result['val_accuracy']:.4g}" if "val_accuracy" in result
                  else f"val_loss {result['val_loss']:.4g} ({result['loss']})")
        print(f"random forest of {result['trees']} trees: {figure} on "
              f"{result['dataset']['name']} ({result['train_samples']} train / "
              f"{result['val_samples']} validation examples) in {result['seconds']:.3g} s")
        if args.onnx:
            check = result["onnx"]
            print(f"wrote {check['path']} (opset {check['opset']}, max_abs_diff "
                  f"{check['max_abs_diff']:.3g}{'' if ok else ', outputs differ'})",
                  file=sys.stderr)
    return EXIT_OK if ok else EXIT_FAILED


# -- import -----------------------------------------------------------------------------------

def cmd_import(args) -> int:
    """layerlab import MODEL.onnx -o DOC [--weights-out FILE] [--json]."""
    source = Path(args.model)
    if not source.is_file():
        raise UsageError(f"no such file: {args.model}")
    from server.importer import OnnxImportError, import_onnx, read_file
    from server.model import save_weights

    doc_path = Path(args.output)
    weights = Path(args.weights_out) if args.weights_out else weights_beside(doc_path)
    try:
        result = import_onnx(read_file(source), name=source.stem, folder=source.parent)
    except OnnxImportError as e:
        print(f"error: {e.message}", file=sys.stderr)
        for d in e.details:
            print(f"error: {d['node']} ({d['op']}): {d['message']}", file=sys.stderr)
        if args.json:
            emit_json({"ok": False, "error": e.message, "errors": e.details})
        return EXIT_FAILED
    doc_path.parent.mkdir(parents=True, exist_ok=True)
    doc_path.write_text(json.dumps(result.document, indent=2) + "\n", encoding="utf-8")
    save_weights(result.state_dict, weights)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        emit_json({"ok": True, "document": str(doc_path), "weights": str(weights),
                   "warnings": result.warnings, "max_abs_diff": result.max_abs_diff})
    else:
        nodes = len(result.document["nodes"])
        params = sum(v.numel() for k, v in result.state_dict.items()
                     if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
        print(f"imported {source} as {nodes} nodes ({params:,} parameters): {doc_path}, weights "
              f"{weights} (max |diff| to ONNX Runtime {result.max_abs_diff:.3g})")
    return EXIT_OK


def weights_beside(doc: Path) -> Path:
    """DOC.layerlab.json -> DOC.safetensors (another suffix is replaced, none appended)."""
    name = doc.name
    if name.endswith(".layerlab.json"):
        return doc.with_name(name.removesuffix(".layerlab.json") + ".safetensors")
    return doc.with_suffix(".safetensors")


# -- serve ------------------------------------------------------------------------------------

def cmd_serve(args) -> int:
    """layerlab serve [--host 127.0.0.1] [--port 5000] [--data-dir DIR] [--allowed-hosts ...]
    [--runner local|ray] [--ray-address ADDRESS] [--message-queue redis://...]."""
    from server.web.serve import serve

    serve(args.host, args.port, args.data_dir, allowed_hosts=args.allowed_hosts,
          allowed_origins=args.allowed_origins, behind_proxy=args.behind_proxy,
          scale=scale_settings(args))
    return EXIT_OK


def scale_settings(args) -> dict:
    """The app settings of --runner, --ray-address, --message-queue (docs/DEPLOY.md)."""
    address = args.ray_address or os.environ.get("LAYERLAB_RAY_ADDRESS")
    if args.runner == "local":
        if args.message_queue:
            raise UsageError("--message-queue (several web processes) needs --runner ray: a "
                             "local pool's runs live and end in the one process that trains "
                             "them")
        return {}
    if not address:
        raise UsageError("--runner ray needs the cluster's address: --ray-address ADDRESS or "
                         "LAYERLAB_RAY_ADDRESS (host:port of its head, or ray://host:10001)")
    needed = ["ray"] + (["redis"] if args.message_queue else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"{' and '.join(missing)} not installed: pip install 'layerlab[scale]'")
    if args.message_queue and not args.message_queue.startswith(("redis://", "rediss://")):
        raise UsageError(f"--message-queue must be a redis:// URL; got {args.message_queue}")
    return {"RUNNER": "ray", "RAY_ADDRESS": address, "MESSAGE_QUEUE": args.message_queue,
            "LEASE_SECONDS": args.lease_seconds}


# -- parsing ----------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse that exits 2 on usage errors (as it does) but with our message style."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        print(f"layerlab: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The `layerlab` argument parser."""
    parser = Parser(prog="layerlab", description="Design, train and export neural networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    serve = sub.add_parser("serve", help="run the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--data-dir", default=None, help="where designs and runs are kept")
    serve.add_argument("--allowed-hosts", default="", metavar="NAMES",
                       help="more names this server answers to, comma separated (loopback "
                       "names always; with --host 0.0.0.0 also this machine's name and "
                       "addresses; '*' any name: unsafe, opens DNS rebinding)")
    serve.add_argument("--allowed-origins", default="", metavar="ORIGINS",
                       help="other page origins that may change state, e.g. https://lab.example")
    serve.add_argument("--behind-proxy", type=int, default=0, metavar="N", nargs="?", const=1,
                       help="believe X-Forwarded-For/Proto/Host/Port from N proxies in front")
    serve.add_argument("--runner", choices=("local", "ray"), default="local",
                       help="where runs train: warm processes here (local), or each run a Ray "
                       "actor on a cluster (ray), which outlives this server")
    serve.add_argument("--ray-address", default=None, metavar="ADDRESS",
                       help="the Ray cluster: host:port of its head, or ray://host:10001 "
                       "(default: $LAYERLAB_RAY_ADDRESS)")
    serve.add_argument("--message-queue", default=None, metavar="URL",
                       help="redis://host:port/0: several web processes share rooms, runs and "
                       "leases (needs --runner ray)")
    serve.add_argument("--lease-seconds", type=float, default=10.0, metavar="S",
                       help="a web process that died has its runs taken over after this long")
    serve.set_defaults(func=cmd_serve)

    def doc_command(name: str, func, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("doc", help="a .layerlab.json document")
        p.add_argument("--json", action="store_true", help="end stdout with one JSON object")
        p.add_argument("--data-dir", default=None, help="where uploads and downloads are kept")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.set_defaults(func=func)
        return p

    doc_command("validate", cmd_validate, "check a document and infer every shape")
    train = doc_command("train", cmd_train, "train headless")
    bound = train.add_mutually_exclusive_group()
    bound.add_argument("--epochs", type=positive, default=None)
    bound.add_argument("--steps", type=positive, default=None)
    train.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N")
    train.add_argument("--out", default=None, help="folder for weights and metrics")
    train.add_argument("--init-weights", default=None, metavar="FILE",
                       help="start from these weights (safetensors) instead of fresh ones")
    export = doc_command("export", cmd_export, "export to ONNX or PyTorch source")
    export.add_argument("--weights", default=None, help="safetensors (or state_dict) file")
    export.add_argument("--format", choices=("onnx", "pytorch"), default="onnx")
    export.add_argument("-o", "--output", required=True, help="the file to write")
    export.add_argument("--check", action="store_true",
                        help="compare ONNX Runtime with PyTorch (rtol 1e-3, atol 1e-5)")
    baseline = doc_command("baseline", cmd_baseline,
                           "fit a random forest on the design's own data, to compare with")
    baseline.add_argument("--trees", type=tree_count, default=100, help="trees in the forest")
    baseline.add_argument("--onnx", default=None, metavar="OUT",
                          help="also write the forest as ONNX, checked with ONNX Runtime")
    imports = sub.add_parser("import", help="turn an ONNX model into a document and weights")
    imports.add_argument("model", help="an .onnx file")
    imports.add_argument("-o", "--output", required=True, help="the .layerlab.json to write")
    imports.add_argument("--weights-out", default=None, metavar="FILE",
                         help="where the weights go (default: DOC's path, .safetensors)")
    imports.add_argument("--json", action="store_true", help="end stdout with one JSON object")
    imports.set_defaults(func=cmd_import)
    return parser


def positive(text: str) -> int:
    """argparse type: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def tree_count(text: str) -> int:
    """argparse type: a number of trees (1 to the baseline's most)."""
    from server.baseline import trees_problem

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    problem = trees_problem(value, label="the number of trees")
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `layerlab` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "device", None) is not None:
        from server.graph.training import DEVICE_RE

        if not DEVICE_RE.match(args.device):
            build_parser().error(f"--device must be auto, cpu, cuda or cuda:N; got {args.device}")
    try:
        return args.func(args)
    except UsageError as e:
        print(f"layerlab: error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
