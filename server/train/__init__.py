"""Training: TrainConfig, the loop, controls. Knows nothing of Socket.IO."""

from server.train.config import TrainConfig
from server.train.control import Control
from server.train.loop import Trainer, TrainError, TrainResult, device_label, resolve_device

__all__ = ["Control", "TrainConfig", "TrainError", "TrainResult", "Trainer", "device_label",
           "resolve_device"]
