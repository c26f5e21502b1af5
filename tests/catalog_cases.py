"""One or more small designs per catalog layer type, shared by the catalog and export tests.

Each case is (input shape, params). Merge layers get two Linear branches in front of them.
"""

CASES: dict[str, list[tuple[list[int], dict]]] = {
    "Linear": [([4], {"out_features": 5}), ([6, 4], {"out_features": 3, "bias": False})],
    "Flatten": [([2, 3, 4], {})],
    "Reshape": [([12], {"shape": [3, -1]}), ([2, 3, 4], {"shape": [4, 6]})],
    "Dropout": [([5], {"p": 0.2})],
    "Identity": [([5], {})],
    "Conv1d": [([3, 10], {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1})],
    "Conv2d": [([3, 9, 7], {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1,
                            "dilation": 2}), ([1, 8, 8], {})],
    "MaxPool1d": [([3, 10], {"kernel_size": 3})],
    "MaxPool2d": [([2, 9, 8], {"kernel_size": 2, "stride": 1, "padding": 1})],
    "AvgPool2d": [([2, 9, 8], {"kernel_size": 3})],
    "AdaptiveAvgPool2d": [([2, 9, 8], {"output_size": 2})],
    "BatchNorm1d": [([5], {}), ([4, 7], {"affine": False})],
    "BatchNorm2d": [([3, 4, 4], {})],
    "LayerNorm": [([6, 5], {})],
    "ReLU": [([5], {})],
    "LeakyReLU": [([5], {"negative_slope": 0.2})],
    "ELU": [([5], {"alpha": 0.5})],
    "GELU": [([5], {"approximate": "tanh"})],
    "Sigmoid": [([5], {})],
    "Tanh": [([5], {})],
    "Softmax": [([3, 4], {"dim": 0}), ([4], {})],
    "RNN": [([6, 3], {"hidden_size": 5, "nonlinearity": "relu"})],
    "GRU": [([6, 3], {"hidden_size": 4, "return_sequences": True})],
    "LSTM": [([6, 3], {"hidden_size": 5, "num_layers": 2, "bidirectional": True}),
             ([6, 3], {"hidden_size": 4, "return_sequences": True, "bidirectional": True})],
    "Embedding": [([7], {"num_embeddings": 10, "embedding_dim": 4}),
                  ([7, 1], {"num_embeddings": 3, "embedding_dim": 2})],
    "MultiheadAttention": [([5, 8], {"num_heads": 2})],
    "TransformerEncoderLayer": [([5, 8], {"nhead": 2, "dim_feedforward": 16, "dropout": 0.0})],
    "Add": [([4], {})],
    "Concat": [([4], {}), ([4], {"dim": -1})],
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


def all_cases() -> list[tuple[str, list[int], dict]]:
    """Every (type, shape, params) case, flattened for pytest.mark.parametrize."""
    return [(t, s, p) for t, cases in CASES.items() for s, p in cases]


def sample_input(layer_type: str, shape: list[int], params: dict, batch: int = 3):
    """A random batch that the case's layer accepts (integer ids for Embedding)."""
    import torch

    if layer_type == "Embedding":
        return torch.randint(0, params["num_embeddings"], (batch, *shape)).float()
    return torch.randn(batch, *shape)
