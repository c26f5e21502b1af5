"""The one error type of the data package."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset spec or file is unusable; `field` names the spec key at fault (or None)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def to_json(self) -> dict:
        """The error as a JSON-ready dict: {"field", "message"}."""
        return {"field": self.field, "message": self.message}
