"""Mixed precision: what a supervised run computes in, and the device settings that go with it.

`training.precision` is auto | fp32 | bf16 | fp16. In every case the weights, the optimizer's
state, the saved weights and the exports stay fp32: autocast runs matmuls and convolutions in
the lower precision and keeps reductions in fp32, and the loss is taken on fp32 outputs. fp16's
narrow range needs a grad scaler (the loss is scaled up before backward, the gradients down
before the step, and a step whose gradients overflowed is skipped); bf16 has fp32's range and
needs none.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
AUTOCAST_DEVICES = ("cpu", "cuda")  # where autocast and the grad scaler run
CONVOLUTIONS = (nn.Conv2d, nn.ConvTranspose2d)  # the layers channels-last speeds up


class PrecisionError(ValueError):
    """The precision asked for cannot run on the run's device; the message says what can."""


@dataclass(frozen=True)
class Precision:
    """How one run computes: its name (auto resolved) and where autocast runs."""

    name: str  # "fp32" | "bf16" | "fp16"
    device_type: str  # autocast's device type: "cpu" | "cuda" (| "mps" for fp32)
    cache: bool = True  # autocast's cast cache; off while a CUDA graph is captured

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype (None: plain fp32)."""
        return DTYPES.get(self.name)

    def autocast(self):
        """The context a forward pass runs in (a no-op for fp32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype, cache_enabled=self.cache)

    def scaler(self) -> torch.amp.GradScaler | None:
        """fp16's grad scaler; None for fp32 and bf16, whose range needs none."""
        return torch.amp.GradScaler(self.device_type) if self.name == "fp16" else None


def native_bf16(device: torch.device) -> bool:
    """Whether a CUDA GPU computes in bf16 natively (Ampere, compute capability 8, and later)."""
    return torch.cuda.get_device_capability(device)[0] >= 8


def resolve_precision(name: str, device: torch.device, bf16: bool | None = None) -> Precision:
    """The precision `name` on `device`; `bf16` says whether the GPU has native bf16 (None:
    ask it). Raises PrecisionError where it cannot run."""
    kind = device.type
    has_bf16 = kind == "cuda" and (native_bf16(device) if bf16 is None else bf16)
    if name == "auto":  # bf16 where it is fast; on the CPU it is slower than fp32
        return Precision("bf16" if has_bf16 else "fp32", kind)
    if name == "fp32":
        return Precision("fp32", kind)
    if name not in DTYPES:
        raise PrecisionError(f"training.precision must be auto, fp32, bf16 or fp16; got {name!r}")
    if kind not in AUTOCAST_DEVICES:
        raise PrecisionError(f"precision {name} runs on a CUDA GPU or the CPU, not on {kind}; "
                             "use fp32 or auto")
    if name == "bf16" and kind == "cuda" and not has_bf16:
        raise PrecisionError(f"{device} has no native bf16 (it needs compute capability 8.0, "
                             "Ampere, or later); use fp16 or fp32")
    return Precision(name, kind)


def wants_channels_last(model: nn.Module, device: torch.device, precision: Precision) -> bool:
    """Channels-last where it is faster: convolutions in half precision on a GPU (its tensor
    cores read NHWC); fp32 and the CPU keep PyTorch's NCHW."""
    return (device.type == "cuda" and precision.dtype is not None
            and any(isinstance(m, CONVOLUTIONS) for m in model.modules()))


def prepare_device(device: torch.device) -> None:
    """Make a CUDA device the process's current one (kernels, graphs and the caching allocator
    then live there, not on GPU 0 too) and let fp32 matmuls use TF32 tensor cores."""
    if device.type != "cuda":
        return
    if device.index is not None:  # plain "cuda" is the current device already
        torch.cuda.set_device(device)
    # TF32 keeps fp32's range with a 10-bit mantissa: ~8x the matmul throughput on Ampere and
    # later, and well inside what training noise hides. Convolutions already use it (cuDNN's
    # default). Process-wide: a worker's runs all train alike.
    torch.set_float32_matmul_precision("high")
