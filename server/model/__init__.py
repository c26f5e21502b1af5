"""Documents become PyTorch modules here."""

from server.model.builder import LayerlabModel, build_model
from server.model.layers import BUILDERS

__all__ = ["BUILDERS", "LayerlabModel", "build_model"]
