"""faultlab.models."""
