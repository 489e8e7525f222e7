"""faultlab.features."""
