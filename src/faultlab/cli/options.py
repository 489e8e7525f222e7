"""Helpers shared by command modules: KEY=VALUE parsing and dotted overrides."""

from __future__ import annotations

from typing import Any

import yaml

from faultlab.errors import ConfigError


def parse_pairs(pairs: list[str] | None, what: str = "option") -> dict[str, Any]:
    """``["layers=2", "bidirectional=true"]`` -> ``{"layers": 2, "bidirectional": True}``."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"{what} {pair!r} must look like KEY=VALUE")
        key, value = pair.split("=", 1)
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def set_dotted(config: dict[str, Any], dotted: str, value: Any) -> None:
    """``set_dotted(cfg, "training.epochs", 5)``; intermediate mappings are created."""
    node = config
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"config key {dotted!r}: {key!r} is not a mapping")
    node[leaf] = value
