"""faultlab.training."""
