"""Documents, the layer catalog, validation and shape inference (pure: no torch, no Flask)."""

from server.graph.catalog import CATALOG, LayerSpec, Param, catalog_json
from server.graph.network import Budget, DocumentError, Network, Node, Report
from server.graph.rules import ShapeError, fmt
from server.graph.validate import parse_document, validate

__all__ = [
    "CATALOG", "Budget", "DocumentError", "LayerSpec", "Network", "Node", "Param", "Report",
    "ShapeError", "catalog_json", "fmt", "parse_document", "validate",
]
