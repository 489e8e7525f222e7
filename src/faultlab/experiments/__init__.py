"""faultlab.experiments."""
