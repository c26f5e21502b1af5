"""What routes and events share: the data folder, the store, the run manager and the baseline
pool."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from server.baseline import BaselinePool
from server.runs import RunManager
from server.runs.artifacts import EXPORTS
from server.store import Store


@dataclass
class Layerlab:
    """The app's services, kept in `app.extensions["layerlab"]`."""

    data_dir: Path
    store: Store
    manager: RunManager
    baselines: BaselinePool  # random-forest baselines, fitted in spawned processes

    def close(self) -> None:
        """Stop every run (recorded as stopped), end the workers, close the database."""
        self.manager.shutdown()
        EXPORTS.shutdown()
        self.baselines.shutdown()
        self.store.close()


def lab() -> Layerlab:
    """The current app's services."""
    return current_app.extensions["layerlab"]
