"""What the page shows of a model while it trains: boundary, activations, health, results."""

from server.insight.frames import dequantize, plane_grid, quantize, quantize_fixed
from server.insight.health import HINTS, badges, dead_fraction
from server.insight.probe import Insight

__all__ = ["HINTS", "Insight", "badges", "dead_fraction", "dequantize", "plane_grid",
           "quantize", "quantize_fixed"]
