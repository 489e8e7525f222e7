"""faultlab.utils."""
