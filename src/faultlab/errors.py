"""Errors users see as one clean line from the CLI (no traceback)."""

from __future__ import annotations


class FaultlabError(Exception):
    """Base class: the message must name the file, key or value that is wrong."""


class DataError(FaultlabError):
    """A recording, table or catalogue entry cannot be read or is invalid."""


class ConfigError(FaultlabError):
    """A configuration value is missing, unknown or out of range."""


class LeakageError(FaultlabError):
    """A split would let one recording feed both training and testing."""
