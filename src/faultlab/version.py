"""The package version, in a module of its own so code below the top layer can read it
without importing ``faultlab`` (whose ``__init__`` re-exports the top-level API)."""

__version__ = "0.1.0"
