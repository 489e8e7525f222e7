"""faultlab.data."""
