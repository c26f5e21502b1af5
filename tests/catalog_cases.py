"""One or more small designs per catalog layer type, shared by the catalog, build and export tests.

Adding a layer type is one catalog entry plus its cases here. Each case is (input shape, params).
Merge layers get two Linear branches in front of them. A source (a type that takes no input,
such as Noise) starts a network of its own, the way a GAN's generator starts at its Noise: its
case's shape is the tensor it is fed, which must be its own output.
"""

from __future__ import annotations

from server.graph import CATALOG, Network, Node, parse_document

RNN_VARIANTS = ({}, {"return_sequences": True}, {"bidirectional": True, "num_layers": 2},
                {"bidirectional": True, "return_sequences": True})

CASES: dict[str, list[tuple[list[int], dict]]] = {
    "Noise": [([2], {}), ([3], {"dim": 3, "distribution": "uniform"})],
    "Linear": [([4], {"out_features": 5}), ([6, 4], {"out_features": 3, "bias": False})],
    "Flatten": [([2, 3, 4], {})],
    "Reshape": [([12], {"shape": [3, -1]}), ([2, 3, 4], {"shape": [4, 6]})],
    "Dropout": [([5], {"p": 0.2})],
    "Identity": [([5], {})],
    "Conv1d": [([3, 10], {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1})],
    "Conv2d": [([3, 9, 7], {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1,
                            "dilation": 2}), ([1, 8, 8], {"bias": False})],
    "ConvTranspose2d": [([2, 4, 4], {}),
                        ([3, 5, 4], {"out_channels": 4, "kernel_size": 3, "stride": 2,
                                     "padding": 1, "output_padding": 1}),
                        ([2, 3, 3], {"out_channels": 3, "kernel_size": 4, "stride": 1,
                                     "padding": 2, "bias": False})],
    "Upsample": [([2, 3, 4], {}), ([2, 3, 4], {"mode": "bilinear", "scale_factor": 3}),
                 ([1, 2, 2], {"mode": "bilinear", "align_corners": True})],
    "MaxPool1d": [([3, 10], {"kernel_size": 3}), ([3, 10], {"kernel_size": 3, "padding": 1})],
    "MaxPool2d": [([2, 9, 8], {"kernel_size": 2, "stride": 1, "padding": 1}), ([3, 8, 8], {})],
    "AvgPool2d": [([2, 9, 8], {"kernel_size": 3}),
                  ([3, 8, 8], {"kernel_size": 3, "stride": 2, "padding": 1})],
    "AdaptiveAvgPool2d": [([2, 9, 8], {"output_size": 2}), ([3, 7, 7], {"output_size": 3})],
    "BatchNorm1d": [([5], {}), ([4, 7], {"affine": False}), ([3, 10], {"eps": 1e-3})],
    "BatchNorm2d": [([3, 4, 4], {}), ([3, 8, 8], {"affine": False})],
    "LayerNorm": [([6, 5], {})],
    "ReLU": [([5], {})],
    "LeakyReLU": [([5], {"negative_slope": 0.2})],
    "ELU": [([5], {"alpha": 0.5})],
    "GELU": [([5], {"approximate": "tanh"}), ([4], {})],
    "Sigmoid": [([5], {})],
    "Tanh": [([5], {})],
    "Softmax": [([3, 4], {"dim": 0}), ([4], {})],
    "RNN": [([5, 3], {"hidden_size": 6, **v}) for v in RNN_VARIANTS]
    + [([6, 3], {"hidden_size": 5, "nonlinearity": "relu"})],
    "GRU": [([5, 3], {"hidden_size": 6, **v}) for v in RNN_VARIANTS],
    "LSTM": [([5, 3], {"hidden_size": 6, **v}) for v in RNN_VARIANTS],
    "Embedding": [([7], {"num_embeddings": 10, "embedding_dim": 4}),
                  ([7, 1], {"num_embeddings": 3, "embedding_dim": 2})],
    "MultiheadAttention": [([5, 8], {"num_heads": 2})],
    "TransformerEncoderLayer": [([5, 8], {"nhead": 2, "dim_feedforward": 16, "dropout": 0.0}),
                                ([5, 8], {"nhead": 2, "dim_feedforward": 16, "norm_first": True,
                                          "activation": "gelu"})],
    "Add": [([4], {})],
    "Concat": [([4], {}), ([4], {"dim": -1}), ([5, 4], {"dim": -1})],
}

MERGE_BRANCHES = {"Add": (6, 6), "Concat": (3, 5)}


def case_document(layer_type: str, shape: list[int], params: dict) -> dict:
    """A document: Input(shape) -> the layer (behind two Linear branches for merges)."""
    nodes = [{"id": "in", "type": "Input", "params": {"shape": shape}}]
    edges = []
    if layer_type in MERGE_BRANCHES:
        for i, width in enumerate(MERGE_BRANCHES[layer_type]):
            nodes.append({"id": f"b{i}", "type": "Linear", "params": {"out_features": width}})
            edges += [{"source": "in", "target": f"b{i}"},
                      {"source": f"b{i}", "target": "layer", "port": i}]
    else:
        edges.append({"source": "in", "target": "layer"})
    nodes.append({"id": "layer", "type": layer_type, "params": params})
    return {"format": "layerlab.network", "version": 1, "name": f"{layer_type} case",
            "nodes": nodes, "edges": edges}


def case_network(layer_type: str, shape: list[int], params: dict) -> Network:
    """The case as a checked network: its document's, or for a source a network of its own."""
    spec = CATALOG[layer_type]
    if not spec.source:
        return parse_document(case_document(layer_type, shape, params))
    node = Node("layer", layer_type, {**spec.defaults(), **params})
    out, node.n_params = spec.rule([], node.params)
    node.shape = tuple(out)
    assert list(node.shape) == shape, f"a {layer_type} case is fed its own output {node.shape}"
    return Network(f"{layer_type} case", [node], "layer", "layer", {}, None, {})


def case_names() -> dict[str, tuple[str, list[int], dict]]:
    """Every case by a readable name ("Conv2d", "Conv2d-1", ...): the first is the type's own."""
    return {(t if i == 0 else f"{t}-{i}"): (t, s, p)
            for t, cases in CASES.items() for i, (s, p) in enumerate(cases)}


def all_cases() -> list[tuple[str, list[int], dict]]:
    """Every case wired behind an Input (all but sources), flattened for parametrize."""
    return [(t, s, p) for t, cases in CASES.items() if not CATALOG[t].source for s, p in cases]


def sample_input(layer_type: str, shape: list[int], params: dict, batch: int = 3):
    """A random batch that the case's layer accepts (ids below its vocabulary for Embedding)."""
    import torch

    vocabulary = CATALOG[layer_type].vocabulary
    if vocabulary:
        return torch.randint(0, params[vocabulary], (batch, *shape)).float()
    return torch.randn(batch, *shape)
