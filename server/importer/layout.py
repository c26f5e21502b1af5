"""Canvas positions for an imported design, drawn as the page's own tidy layout draws
(static/js/layout.js): a column per topological depth (the longest path from the Input), left
to right, nodes in a column ordered by where their inputs sit and centred on one another."""

from __future__ import annotations

NODE_W, NODE_H = 176, 92  # a node's box on the canvas
GAP_X, GAP_Y = 112, 36  # room between columns (edge labels) and between rows
ORIGIN = (40, 40)


def tidy(node_ids: list[str], edges: list[dict]) -> dict[str, dict[str, int]]:
    """{id: {"x", "y"}} for nodes in topological order and edges between them."""
    preds: dict[str, list[str]] = {i: [] for i in node_ids}
    for e in edges:
        preds[e["target"]].append(e["source"])
    depth: dict[str, int] = {}
    for i in node_ids:
        depth[i] = 1 + max((depth[p] for p in preds[i]), default=-1)
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    row: dict[str, float] = {}
    for i in node_ids:  # ordered by the mean row of their inputs (one barycentre sweep)
        columns[depth[i]].append(i)
    for column in columns:
        column.sort(key=lambda i: sum(row[p] for p in preds[i]) / len(preds[i])
                    if preds[i] else 0.0)
        row.update({i: r for r, i in enumerate(column)})
    tallest = max(len(c) for c in columns) if columns else 0
    height = tallest * NODE_H + (tallest - 1) * GAP_Y
    out = {}
    for x, column in enumerate(columns):
        top = (height - (len(column) * NODE_H + (len(column) - 1) * GAP_Y)) / 2
        for r, i in enumerate(column):
            out[i] = {"x": ORIGIN[0] + x * (NODE_W + GAP_X),
                      "y": round(ORIGIN[1] + top + r * (NODE_H + GAP_Y))}
    return out
