"""training.precision (server/train/precision.py): the field, what each value resolves to on each
device, the autocast path on the CPU (bf16, and fp16 with its grad scaler), fp32 weights and
exports whatever the precision, channels-last, and the out-of-memory message. The CUDA tests at
the end run where a GPU exists and are skipped, saying so, where none does.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from server.export import export_onnx_bytes
from server.graph import parse_document, validate
from server.graph.training import BY_PATH
from server.kinds import supervised
from server.train import Control, Trainer, TrainError
from server.train.precision import (
    Precision,
    PrecisionError,
    prepare_device,
    resolve_precision,
    wants_channels_last,
)
from tests.live import example

NO_GPU = "needs a CUDA GPU; this machine has none"
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_GPU)
CPU, GPU = torch.device("cpu"), torch.device("cuda:0")


# -- the field -------------------------------------------------------------------------------

def test_precision_is_a_supervised_choice_served_with_the_training_schema(client):
    served = {f["path"]: f for f in client.get("/api/training").get_json()["fields"]}
    field = served["precision"]
    assert field["choices"] == ["auto", "fp32", "bf16", "fp16"] and field["default"] == "auto"
    assert field["kinds"] == ["supervised"] and field["pattern"] is None
    assert BY_PATH["precision"].problem("auto") is None


def test_a_bad_precision_is_refused_naming_the_field():
    errors = validate(example("spiral_mlp", precision="fp64")).errors
    assert [(e["param"], e["message"]) for e in errors] == [
        ("training.precision", "precision must be one of auto, fp32, bf16, fp16; got 'fp64'")]


@pytest.mark.parametrize("name", ["gan_gaussians", "dqn_cartpole"])
def test_gan_and_dqn_designs_refuse_a_precision(name):
    # Both train in fp32: a gan's two losses and a dqn's tiny Q-network gain nothing from
    # half precision, and each would need its own scaler; the schema says so rather than
    # accepting a setting that would be ignored.
    (error,) = validate(example(name, precision="bf16")).errors
    assert error["param"] == "training.precision"
    assert "only used by kind supervised" in error["message"]


# -- what each value resolves to ---------------------------------------------------------------

@pytest.mark.parametrize("name, device, bf16, expected", [
    ("auto", CPU, None, "fp32"),  # bf16 on a CPU is slower than fp32
    ("auto", GPU, True, "bf16"),
    ("auto", GPU, False, "fp32"),  # pre-Ampere: no native bf16
    ("fp32", GPU, True, "fp32"),
    ("bf16", CPU, None, "bf16"),
    ("bf16", GPU, True, "bf16"),
    ("fp16", CPU, None, "fp16"),
    ("fp16", GPU, False, "fp16"),
])
def test_each_precision_resolves_by_device(name, device, bf16, expected):
    p = resolve_precision(name, device, bf16=bf16)
    assert (p.name, p.device_type) == (expected, device.type)
    assert p.dtype == {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[expected]


@pytest.mark.parametrize("name, device, bf16, words", [
    ("bf16", GPU, False, "cuda:0 has no native bf16 (it needs compute capability 8.0"),
    ("fp16", torch.device("mps"), None, "precision fp16 runs on a CUDA GPU or the CPU, not on "
                                        "mps"),
    ("fp8", CPU, None, "must be auto, fp32, bf16 or fp16"),
])
def test_a_precision_the_device_cannot_run_is_refused_saying_what_can(name, device, bf16, words):
    with pytest.raises(PrecisionError) as refused:
        resolve_precision(name, device, bf16=bf16)
    assert words in str(refused.value)


def test_only_fp16_has_a_grad_scaler():
    assert Precision("fp32", "cpu").scaler() is None
    assert Precision("bf16", "cpu").scaler() is None
    assert isinstance(Precision("fp16", "cpu").scaler(), torch.amp.GradScaler)


def test_channels_last_only_for_half_precision_convolutions_on_a_gpu():
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    mlp = nn.Sequential(nn.Linear(2, 4))
    bf16, fp32 = Precision("bf16", "cuda"), Precision("fp32", "cuda")
    assert wants_channels_last(conv, GPU, bf16)
    assert not wants_channels_last(conv, GPU, fp32)
    assert not wants_channels_last(conv, CPU, Precision("bf16", "cpu"))
    assert not wants_channels_last(mlp, GPU, bf16)


def test_preparing_the_cpu_changes_nothing():
    before = torch.get_float32_matmul_precision()
    prepare_device(CPU)
    assert torch.get_float32_matmul_precision() == before


# -- the autocast path on the CPU --------------------------------------------------------------

def output_dtypes(trainer: Trainer) -> list[torch.dtype]:
    """The dtype of the first layer's output on every training step (a forward hook)."""
    seen: list[torch.dtype] = []
    setup = trainer.setup

    def hooked():
        setup()
        first = next(m for m in trainer.model.modules() if isinstance(m, nn.Linear))
        first.register_forward_hook(lambda m, i, out: seen.append(out.dtype)
                                    if m.training else None)

    trainer.setup = hooked
    return seen


def test_auto_on_the_cpu_is_fp32():
    t = Trainer(example("spiral_mlp", steps=3))
    seen = output_dtypes(t)
    result = t.run()
    assert result.precision == "fp32" and set(seen) == {torch.float32}
    assert supervised.summary(result)["precision"] == "fp32"
    assert "cuda_graphs" not in supervised.summary(result)


def test_bf16_on_the_cpu_trains_through_autocast_to_fp32s_accuracy():
    t = Trainer(example("spiral_mlp", epochs=150, precision="bf16"))
    seen = output_dtypes(t)
    result = t.run()
    assert result.precision == "bf16" and set(seen) == {torch.bfloat16}
    assert result.val_accuracy > 0.9  # the bar fp32 meets (tests/test_train.py)
    assert all(p.dtype == torch.float32 for p in result.model.parameters())
    assert all(s.dtype == torch.float32 for s in t.optimizer.state_dict()["state"][0].values()
               if s.is_floating_point())


def test_fp16_on_the_cpu_scales_its_gradients_and_still_learns():
    t = Trainer(example("spiral_mlp", epochs=40, precision="fp16"))
    seen = output_dtypes(t)
    result = t.run()
    assert result.precision == "fp16" and set(seen) == {torch.float16}
    assert isinstance(t.scaler, torch.amp.GradScaler) and t.scaler.get_scale() > 1
    losses = [p["train_loss"] for p in result.history if "train_loss" in p]
    assert losses[-1] < losses[0]


def test_grad_clipping_and_health_probes_see_unscaled_fp16_gradients():
    doc = example("spiral_mlp", steps=4, precision="fp16")
    doc["training"]["optimizer"]["grad_clip"] = 1e-3
    t = Trainer(doc)
    t.probe_grads = True
    t.run()
    # The probe measured the gradients once unscaled: small numbers, not 65536 times them.
    assert t.grad_norms is not None and float(t.grad_norms.max()) < 100


def test_a_bf16_trained_model_exports_to_fp32_onnx_that_matches_pytorch():
    doc = example("digits_cnn", steps=20, precision="bf16")
    result = Trainer(doc).run()
    network = parse_document(doc)
    data, check = export_onnx_bytes(result.model, network)
    assert check.ok and check.max_abs_diff is not None
    import onnx

    proto = onnx.load_from_string(data)
    T = onnx.TensorProto
    floats = {i.data_type for i in proto.graph.initializer} & {T.FLOAT, T.FLOAT16, T.BFLOAT16}
    assert floats == {T.FLOAT}  # the weights, in fp32 (shape constants are int64)


# -- running out of GPU memory ---------------------------------------------------------------

def out_of_memory(precision: str) -> str:
    t = Trainer(example("spiral_mlp", steps=10, precision=precision))

    def boom(*args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    t.train_step = boom
    with pytest.raises(TrainError) as failed:
        t.run()
    return str(failed.value)


def test_running_out_of_gpu_memory_says_so_with_a_hint():
    message = out_of_memory("fp32")
    assert message == ("cpu ran out of memory at step 0 (batch size 32); lower the batch size "
                       "or the layer sizes, or train in bf16 (training.precision)")
    assert "bf16" not in out_of_memory("bf16")  # already half precision: no such hint


def test_a_worker_whose_run_runs_out_of_gpu_memory_fails_that_run_alone(tmp_path, monkeypatch):
    # Outside the training loop (here: saving the weights) the worker itself says what to try;
    # it returns to wait for the next job, so the pool keeps its process.
    import server.model
    from server.runs import worker
    from server.runs.visuals import Visuals

    def boom(*args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(server.model, "save_weights", boom)
    sent: list[tuple] = []
    control = Control()
    job = {"run_id": "r1", "document": example("spiral_mlp", steps=3), "device": "cpu"}
    worker.train((job, control, Visuals("r1", control, sent.append)), worker.Current(),
                 sent.append, str(tmp_path))
    assert sent[-1] == ("failed", "r1", f"the GPU ran out of memory; {worker.OOM_HINT}")
    assert "bf16" in worker.OOM_HINT and not any(m[0] == "memory" for m in sent)  # a CPU run


# -- on a real GPU ---------------------------------------------------------------------------

@cuda
def test_on_a_gpu_auto_is_bf16_where_the_gpu_has_it_and_tf32_is_on():
    result = Trainer(example("spiral_mlp", steps=20), device="cuda").run()
    expected = "bf16" if torch.cuda.get_device_capability()[0] >= 8 else "fp32"
    assert result.precision == expected
    assert torch.get_float32_matmul_precision() == "high"


@cuda
def test_on_a_gpu_fp16_trains_with_its_grad_scaler():
    t = Trainer(example("spiral_mlp", epochs=40, precision="fp16"), device="cuda")
    result = t.run()
    assert result.precision == "fp16" and t.scaler is not None and t.graph is None
    assert result.val_accuracy > 0.7


@cuda
def test_on_a_gpu_a_bf16_cnn_trains_channels_last_and_saves_nchw_weights(tmp_path):
    from server.model import save_weights
    from server.model.weights import load_weights

    t = Trainer(example("digits_cnn", steps=50, precision="bf16"), device="cuda")
    result = t.run()
    assert t.channels_last and result.val_accuracy > 0.5
    path = save_weights(result.model, tmp_path / "w.safetensors")
    assert all(v.is_contiguous() and v.dtype == torch.float32
               for v in load_weights(path).values())
