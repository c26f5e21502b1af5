"""Layerlab: design, train live and export PyTorch models from the browser."""


def create_app(test_config: dict | None = None):
    """The Flask app with Socket.IO (threading mode), the store and the run manager attached."""
    from server.web.app import build_app  # Flask loads only for the web app, not the CLI

    return build_app(test_config)
