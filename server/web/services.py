"""What routes and events share: the data folder, the store and the run manager."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from server.runs import RunManager
from server.runs.artifacts import EXPORTS
from server.store import Store


@dataclass
class Layerlab:
    """The app's services, kept in `app.extensions["layerlab"]`."""

    data_dir: Path
    store: Store
    manager: RunManager

    def close(self) -> None:
        """Stop every run (recorded as stopped), end the workers, close the database."""
        self.manager.shutdown()
        EXPORTS.shutdown()
        self.store.close()


def lab() -> Layerlab:
    """The current app's services."""
    return current_app.extensions["layerlab"]
