"""Documents become PyTorch modules here."""

from server.model.builder import LayerlabModel, build_model
from server.model.layers import BUILDERS
from server.model.weights import WeightsError, apply_weights, load_weights, save_weights

__all__ = ["BUILDERS", "LayerlabModel", "WeightsError", "apply_weights", "build_model",
           "load_weights", "save_weights"]
