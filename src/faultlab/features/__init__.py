"""faultlab.features: vectorised hand-crafted features over ``[n, C, L]`` window arrays."""

from faultlab.features.extract import GROUPS, FeatureExtractor, register_group

__all__ = ["GROUPS", "FeatureExtractor", "register_group"]
